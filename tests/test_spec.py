"""The spec package: schemas are valid, the table is complete, OpenAPI is up to date, data ships installed."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import jsonschema
import pytest

from engagelab_kit import spec
from engagelab_kit.spec import openapi
from tests.conftest import ROOT

SPEC = spec.load()


@pytest.mark.parametrize("name", sorted(SPEC.schemas))
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(SPEC.schemas[name])


def test_page_example_is_a_valid_request_and_responses_are_valid() -> None:
    jsonschema.validate(SPEC.example["body"], SPEC.schemas["contact-request"])
    jsonschema.validate({"code": 0, "message": "success"}, SPEC.schemas["response"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"code": 55104, "message": "x"}, SPEC.schemas["response"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"code": 0, "message": "success", "extra": 1}, SPEC.schemas["response"])


def test_every_documented_code_and_the_gap() -> None:
    documented = {0, 40050, 40007, 50031, 50034, 50074, 55004, 55101, 55102, 55103, 55105, 55106, 55107, 55108, -1}
    assert documented == SPEC.documented_codes
    assert not SPEC.codes[55104].emitted and SPEC.codes[55104].source == "gap"
    statuses = {c: e.http_status for c, e in SPEC.codes.items() if e.emitted}
    assert statuses[0] == 200 and statuses[-1] == 500
    assert all(statuses[c] == 401 for c in (40050, 50031, 50034, 50074))
    assert all(statuses[c] == 400 for c in (40007, 55004, 55101, 55102, 55103, 55105, 55106, 55107, 55108))
    assert set(json.loads(json.dumps(SPEC.schemas["response"]))["properties"]["code"]["enum"]) == documented


def test_every_emitted_error_code_has_a_rule() -> None:
    ruled = {r.code for r in SPEC.rules} | {r.code for r in SPEC.register_rules}
    assert SPEC.documented_codes - {-1} <= ruled
    steps = [r.step for r in SPEC.rules]
    assert steps == sorted(steps)
    assert SPEC.rule("body.size").http_status == 413


def test_white_space_is_unicode_white_space_not_isspace() -> None:
    assert "\u001c" not in SPEC.white_space and "\u001c".isspace()
    assert {"\t", " ", "\u00a0", "\u3000", "\u2028", "\u0085"} <= SPEC.white_space
    assert "\u200b" not in SPEC.white_space and "\ufeff" not in SPEC.white_space


def test_committed_openapi_is_current() -> None:
    committed = json.loads((ROOT / "spec" / "openapi.json").read_text())
    assert committed == openapi.build(), "spec/openapi.json is stale: run `make openapi`"


def test_openapi_cli_writes(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    assert openapi.main(["--output", str(out)]) == 0
    assert json.loads(out.read_text())["openapi"] == "3.1.0"


def test_non_editable_install_ships_the_spec(tmp_path: Path) -> None:
    """`pip install .` into a fresh environment, then use it from an unrelated directory."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run([sys.executable, "-c", "import flask, sys; print(flask.__file__.rsplit('/flask/', 1)[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Dependencies come from this environment's site-packages; only our distribution is built and installed.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    str(ROOT)], check=True, timeout=300,
                   env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "PYTHONPATH": site})
    # The app has its own top-level `spec` package (on sys.path first, as the cwd): the kit must not care.
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "__init__.py").write_text("APP_OWNED = True\n")
    check = (
        "import spec as app_spec; assert app_spec.APP_OWNED;"
        "from engagelab_kit import spec, mock_server, contract_tests;"
        "assert 'site-packages' in spec.__file__, spec.__file__;"
        "s = spec.load(); assert 55108 in s.codes;"
        "c = mock_server.create_app().test_client();"
        "print(c.post('/v1/user/contact', json={}).get_json()['code'])"
    )
    result = subprocess.run([str(python), "-c", check], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": site}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "40050"
