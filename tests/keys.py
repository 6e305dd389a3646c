"""Key material helpers for tests: what a user pastes into Binance when registering a key.

Binance asks for the PEM *public* key of an Ed25519 or RSA key pair; the simulator is given
the same (`add_account(..., public_key_pem=...)`), while the client signs with the private key.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def public_key_pem(private_key_pem: str) -> str:
    """The PEM (SubjectPublicKeyInfo) public key of a PEM private key."""
    key = serialization.load_pem_private_key(private_key_pem.strip().encode(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise ValueError("Binance keys are Ed25519 or RSA")
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
