"""The failure matrix: run a client call once per documented error code and per fault, see what it did.

``failure_matrix`` forces each code on every attempt, answers past the client's
timeout, drops the connection, and (transiently) fails once with -1 and once
with a drop; each row says what the client returned or raised and how many
attempts the mock's journal saw. Print it to read it; assert on its rows.
"""

from __future__ import annotations

from engagelab_kit.mock_server import ContactClient, EngageLabMock

TIMEOUT = 0.3


def test_the_reference_clients_failure_matrix(engagelab_mock: EngageLabMock) -> None:
    client = ContactClient(engagelab_mock.api_key, engagelab_mock.api_secret, base_url=engagelab_mock.url,
                           timeout=TIMEOUT, retries=2, backoff=0.01)
    matrix = engagelab_mock.failure_matrix(lambda: client.set_contacts(42, {"email": "a@example.com"}),
                                           timeout=TIMEOUT)
    print(matrix)  # pytest -s shows the table (README: "Test your own client")

    # Refusals are raised at once, as the exception of their class: a retry cannot help.
    assert matrix.row("code 40050").raised == "AuthenticationError"
    assert {matrix.row(f"code {c}").raised for c in (50031, 50034, 50074)} == {"ProjectError"}
    for code in (40007, 55004, 55101, 55102, 55103, 55105, 55106, 55107, 55108):
        row = matrix.row(f"code {code}")
        assert (row.raised, row.attempts) == ("InvalidRequestError", 1), row
    # -1 and transport failures are retried twice, then raised.
    assert (matrix.row("code -1").raised, matrix.row("code -1").attempts) == ("ServerError", 3)
    assert (matrix.row("dropped connection").raised, matrix.row("dropped connection").attempts) == ("TransportError", 3)
    assert matrix.row("latency past timeout").raised == "TransportError"
    # A single failure is absorbed by the retry.
    for scenario in ("-1 once, then ok", "drop once, then ok"):
        row = matrix.row(scenario)
        assert (row.raised, row.returned, row.attempts) == (None, "None", 2), row
        assert row.answers[-1] == 0
