"""The served mock and its typed control client need no pytest: a script, a notebook or another test
runner uses ``ServedMock`` (start, steer, stop by PID) and ``MockControl`` the same way.

This file runs ``main()`` as a test so that the example stays working.
"""

from __future__ import annotations

import requests

from engagelab_kit.mock_server import MockControl, ServedMock


def main() -> list[str]:
    lines = []
    with ServedMock() as mock:  # engagelab-mock serve --port 0 on 127.0.0.1; stopped on leaving the block
        control: MockControl = mock.control  # or MockControl("http://127.0.0.1:8080") for a mock you serve yourself
        control.seed_users({1: {"email": "one@example.com"}, 2: {"mobile_phone": "200"}})
        control.force_code(50034, euid=2)  # only requests for euid 2 are refused, once
        for euid in (1, 2):
            reply = requests.post(f"{mock.url}/v1/user/contact", json={"euid": euid, "contacts": {"email": "x@y"}},
                                  auth=("7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1"), timeout=5)
            lines.append(f"euid {euid}: {reply.json()['code']}")
        for entry in control.journal():
            lines.append(f"journal: euid {entry.euid} answered {entry.code} (steered: {entry.steered})")
        lines.append(f"stored for 1: {control.user(1)}")
    return lines


def test_main() -> None:
    assert main() == [
        "euid 1: 0",
        "euid 2: 50034",
        "journal: euid 1 answered 0 (steered: None)",
        "journal: euid 2 answered 50034 (steered: fault 1)",
        "stored for 1: {'email': 'x@y'}",
    ]


if __name__ == "__main__":
    print("\n".join(main()))
