"""C2PA signing for generated images, and an offline test certificate chain to try it with."""

from audit.provenance.sign import SigningError, build_manifest, sign_image
from audit.provenance.testchain import TestChain, make_test_chain, write_test_chain

__all__ = [
    "SigningError",
    "TestChain",
    "build_manifest",
    "make_test_chain",
    "sign_image",
    "write_test_chain",
]
