"""An offline test certificate chain for C2PA signing (EC P-256 root CA + leaf).

C2PA refuses a lone self-signed certificate, so signing needs at least a root and a leaf.
This chain is for tests and for trying the feature; it proves nothing to anyone else.
Real deployments sign with a certificate from a CA on a C2PA trust list.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TestChain:
    """PEM bytes: `chain` is leaf then root (what a signer sends), `root` the trust anchor."""

    __test__ = False  # not a pytest test class despite the name

    chain: bytes
    key: bytes
    root: bytes


def make_test_chain(organization: str = "t2i-audit test signer", *, days: int = 3650) -> TestChain:
    """Make a fresh root CA and a leaf signing certificate, both EC P-256 / SHA-256."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    # Backdate a little so a clock slightly behind the signer's still accepts the chain.
    now = _dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=1)
    until = now + _dt.timedelta(days=days)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} root CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root_cert = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )

    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} signer"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(leaf_name)
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # C2PA accepts only certain EKUs for claim signers; emailProtection is one of them.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    leaf_pem = leaf_cert.public_bytes(pem)
    root_pem = root_cert.public_bytes(pem)
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return TestChain(chain=leaf_pem + root_pem, key=key_pem, root=root_pem)


def write_test_chain(directory: str | Path) -> tuple[Path, Path, Path]:
    """Write a fresh test chain into `directory`: (chain.pem, signer.key, root.pem)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    made = make_test_chain()
    cert_path = directory / "chain.pem"
    key_path = directory / "signer.key"
    root_path = directory / "root.pem"
    cert_path.write_bytes(made.chain)
    key_path.write_bytes(made.key)
    key_path.chmod(0o600)
    root_path.write_bytes(made.root)
    return cert_path, key_path, root_path
