"""Binance's published signature vectors, reproduced byte for byte by the client's signers.

Signatures are verified with the exchange simulator's own verifier (written separately from
the client), so each test checks the two implementations against each other and the vectors.
"""

from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr

from chatbot.exchange.signing import (
    Ed25519Signer,
    HmacSigner,
    KeyFormatError,
    KeyType,
    RsaSigner,
    encode_params,
    make_signer,
    rest_payload,
    signature_param,
    ws_payload,
)
from chatbot.sandbox.exchange.signatures import verify_hmac, verify_public_key
from tests.keys import public_key_pem

DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = SecretStr("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
ED25519_PEM = SecretStr(
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    "-----END PRIVATE KEY-----"
)
ED25519_PUBLIC = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGUIKv9dSpWXBViXp2m6vAIb8QMFJYBgyFEQsFJlqgA0=\n"
    "-----END PUBLIC KEY-----\n"
)
ORDER_PARAMS = [
    ("symbol", "LTCBTC"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", "5000"),
    ("timestamp", "1499827319559"),
]


def test_hmac_rest_vector():
    payload = encode_params(ORDER_PARAMS)
    assert payload == (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert HmacSigner(DOC_SECRET).sign(payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_hmac_non_ascii_symbol_is_signed_percent_encoded():
    params = [("symbol", "１２３４５６"), *ORDER_PARAMS[1:]]
    payload = encode_params(params)
    assert payload.startswith(
        "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY"
    )
    assert HmacSigner(DOC_SECRET).sign(payload) == (
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )


def test_hmac_mixed_query_and_body_vector():
    query = encode_params(ORDER_PARAMS[:4])
    body = encode_params(ORDER_PARAMS[4:])
    assert HmacSigner(DOC_SECRET).sign(rest_payload(query, body)) == (
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.01000000",
                "price": "52000.00",
                "recvWindow": 100,
                "timestamp": 1645423376532,
                "apiKey": DOC_API_KEY,
            },
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
        ),
        (
            {
                "symbol": "１２３４５６",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "1.00000000",
                "price": "0.10000000",
                "recvWindow": 5000,
                "timestamp": 1645423376532,
                "apiKey": DOC_API_KEY,
            },
            "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
        ),
        (
            {"apiKey": DOC_API_KEY, "timestamp": 1649729878532},
            "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed",
        ),
    ],
)
def test_hmac_websocket_api_vectors(params, expected):
    payload = ws_payload({**params, "signature": "ignored"})
    assert "signature" not in payload
    assert HmacSigner(DOC_SECRET).sign(payload) == expected


def test_ed25519_published_fix_api_vector():
    payload = "\x01".join(["A", "EXAMPLE", "SPOT", "1", "20240627-11:17:25.223"])
    assert Ed25519Signer(ED25519_PEM).sign(payload) == (
        "4MHXelVVcpkdwuLbl6n73HQUXUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA=="
    )


def test_ed25519_rest_signature_is_percent_encoded_on_the_wire():
    payload = (
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2"
        "&timestamp=1668481559918&recvWindow=5000"
    )
    signature = Ed25519Signer(ED25519_PEM).sign(payload)
    assert signature == (
        "inDT086KVIP8vgUfw5sV3VTkescWztiAGlf4x8FLKHM4NInsn0c1kYVLoGMO8cyjfR6vmTku2YQE0gtfVVlfCw=="
    )
    wire = signature_param(signature)
    assert wire.endswith("lfCw%3D%3D")
    assert dict(parse_qsl(wire))["signature"] == signature
    assert verify_public_key(ED25519_PUBLIC, payload, signature)
    assert not verify_public_key(ED25519_PUBLIC, payload + "x", signature)


def test_public_key_is_derived_from_the_private_key():
    assert public_key_pem(ED25519_PEM.get_secret_value()) == ED25519_PUBLIC


def test_rsa_signature_verifies_and_is_base64():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    signer = make_signer(KeyType.RSA, SecretStr(pem))
    assert isinstance(signer, RsaSigner)
    signature = signer.sign("symbol=BTCUSDT&timestamp=1")
    assert len(signature) == 344
    assert verify_public_key(public_key_pem(pem), "symbol=BTCUSDT&timestamp=1", signature)


def test_hmac_verification_is_case_insensitive():
    signature = HmacSigner(DOC_SECRET).sign("a=1")
    assert verify_hmac(DOC_SECRET.get_secret_value(), "a=1", signature.upper())
    assert not verify_hmac(DOC_SECRET.get_secret_value(), "a=2", signature)


@pytest.mark.parametrize(
    ("key_type", "secret"),
    [
        (KeyType.ED25519, "not a pem"),
        (KeyType.RSA, ED25519_PEM.get_secret_value()),
        (KeyType.ED25519, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
        (KeyType.HMAC, ""),
    ],
)
def test_unusable_secret_is_refused_without_quoting_it(key_type, secret):
    with pytest.raises(KeyFormatError) as excinfo:
        make_signer(key_type, SecretStr(secret))
    if secret:
        assert secret not in str(excinfo.value)
