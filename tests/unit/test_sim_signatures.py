"""The simulator's signature verification, against Binance's published vectors only.

Nothing here signs with the client's code: the payloads are the documentation's strings and
the signatures its published (or, for Ed25519, reference-computed) outputs. The last test
proves the simulator package imports nothing from the client.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.sandbox.exchange.signatures import (
    rest_payload,
    verify_hmac,
    verify_public_key,
    ws_payload,
)

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
ED25519_PUBLIC = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAGUIKv9dSpWXBViXp2m6vAIb8QMFJYBgyFEQsFJlqgA0=\n"
    "-----END PUBLIC KEY-----\n"
)
ORDER = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
PACKAGE = Path(__file__).parents[2] / "chatbot" / "sandbox" / "exchange"


@pytest.mark.parametrize(
    ("query", "body", "signature"),
    [
        (  # example 2: everything in the query string, the signature last
            ORDER + "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
            "",
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
        ),
        (  # example 1: everything in the body
            "",
            ORDER + "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
            "C8DB56825AE71D6D79447849E617115F4A920FA2ACDCAB2B053C4B2838BD6B71",  # any case
        ),
        (  # example 3: query then body, no separator between them
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
        ),
        (  # the non-ASCII symbol, signed percent-encoded as it travels
            "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
            "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
            "",
            "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
        ),
    ],
)
def test_rest_payloads_of_the_documentation_verify(query: str, body: str, signature: str) -> None:
    payload = rest_payload(query, body)
    assert "signature" not in payload
    assert verify_hmac(SECRET, payload, signature)
    assert not verify_hmac(SECRET, payload + "&x=1", signature)


@pytest.mark.parametrize(
    ("params", "signature"),
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
                "apiKey": API_KEY,
                "signature": "whatever was sent",
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
                "apiKey": API_KEY,
            },
            "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
        ),
        (
            {"apiKey": API_KEY, "timestamp": 1649729878532},
            "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed",
        ),
    ],
)
def test_websocket_payloads_of_the_documentation_verify(
    params: dict[str, object], signature: str
) -> None:
    assert verify_hmac(SECRET, ws_payload(params), signature)


def test_websocket_payload_is_sorted_unencoded_with_json_booleans() -> None:
    payload = ws_payload({"b": True, "a": "x y/z", "c": False, "signature": "s"})
    assert payload == "a=x y/z&b=true&c=false"


def test_ed25519_signatures_are_base64_over_the_exact_payload() -> None:
    payload = (
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2"
        "&timestamp=1668481559918&recvWindow=5000"
    )
    signature = (
        "inDT086KVIP8vgUfw5sV3VTkescWztiAGlf4x8FLKHM4NInsn0c1kYVLoGMO8cyjfR6vmTku2YQE0gtfVVlfCw=="
    )
    assert verify_public_key(ED25519_PUBLIC, payload, signature)
    assert not verify_public_key(ED25519_PUBLIC, payload.replace("SELL", "BUY"), signature)
    assert not verify_public_key(ED25519_PUBLIC, payload, signature.rstrip("="))
    assert not verify_public_key(ED25519_PUBLIC, payload, "not base64!")


def test_the_simulator_package_imports_nothing_from_the_client() -> None:
    """Statically: no module of the package names `chatbot.exchange`..."""
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("chatbot.exchange")]
    assert offenders == []
    # ...and at run time, in a fresh interpreter: importing it loads no client module.
    probe = (
        "import sys, chatbot.sandbox.exchange, chatbot.sandbox.exchange.__main__;"
        "print(sorted(m for m in sys.modules if m.startswith('chatbot.exchange')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parents[2],
        timeout=60,
    )
    assert result.stdout.strip() == "[]"
