"""The offline test chain has the shape C2PA asks for, checked with `cryptography` directly."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from audit.provenance import make_test_chain, write_test_chain


def test_chain_is_leaf_then_root_and_the_root_signed_the_leaf() -> None:
    made = make_test_chain("Acme Audits")
    certs = x509.load_pem_x509_certificates(made.chain)
    assert len(certs) == 2
    leaf, root = certs
    assert root.public_bytes(serialization.Encoding.PEM) == made.root
    assert leaf.issuer == root.subject
    assert root.issuer == root.subject  # self-signed root
    root_key = root.public_key()
    assert isinstance(root_key, ec.EllipticCurvePublicKey)
    assert isinstance(root_key.curve, ec.SECP256R1)
    # Raises InvalidSignature if the root did not sign these.
    root_key.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    root_key.verify(root.signature, root.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))


def test_extensions_match_what_c2pa_accepts() -> None:
    made = make_test_chain("Acme Audits")
    leaf, root = x509.load_pem_x509_certificates(made.chain)

    root_bc = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    root_ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert root_bc.ca and root_ku.key_cert_sign

    leaf_bc = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    leaf_ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert not leaf_bc.ca
    assert leaf_ku.digital_signature and not leaf_ku.key_cert_sign
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert aki.key_identifier == root_ski.digest
    orgs = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in orgs] == ["Acme Audits"]


def test_private_key_belongs_to_the_leaf() -> None:
    made = make_test_chain()
    key = serialization.load_pem_private_key(made.key, password=None)
    leaf = x509.load_pem_x509_certificates(made.chain)[0]
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert key.public_key().public_bytes(der, pub) == leaf.public_key().public_bytes(der, pub)


def test_each_call_makes_a_new_chain() -> None:
    assert make_test_chain().root != make_test_chain().root


def test_write_test_chain(tmp_path: Path) -> None:
    cert, key, root = write_test_chain(tmp_path / "keys")
    assert cert.read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert root.read_bytes().count(b"BEGIN CERTIFICATE") == 1
    assert cert.read_bytes().endswith(root.read_bytes())
    assert b"PRIVATE KEY" in key.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
