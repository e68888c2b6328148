"""The CLI as a user meets it: the command tree, help text, the privacy calculator, one-line errors without
tracebacks.

Argument parsing and error paths are tested in-process through `main([...])` (what the `rpsg` script
calls); a subprocess is kept only where the process boundary is the thing under test."""

from __future__ import annotations

import logging
import re
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from make_bad_inputs import CANARY, build

from rpsg_ray.cli import main
from rpsg_ray.demo_data import REAL_TEST, REAL_TRAIN
from rpsg_ray.methods.registry import METHODS

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "demo.yaml")


def rpsg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rpsg_ray.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`rpsg ARGS` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse exits for --help and usage errors
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def shows(text: str, part: str) -> bool:
    """Whether help text holds `part`, however argparse wrapped it (it also breaks lines after hyphens)."""
    return "".join(part.split()) in "".join(text.split())


def listed(text: str) -> set[str]:
    """The subcommands a help text lists (the first word of each line indented by four)."""
    return {line.split()[0] for line in text.splitlines() if re.match(r"    \S", line)}


def test_help_reads_well(capsys: pytest.CaptureFixture[str]) -> None:
    code, top, _ = run(capsys, "--help")
    assert code == 0
    for word in ("generate", "account", "prepare", "config-reference", "evaluate", "compare", "audit", "examples:"):
        assert word in top
    code, gen, _ = run(capsys, "generate", "--help")
    for flag in ("--config", "--input", "--output", "--set", "--resume", "--overwrite", "--address", "--method"):
        assert flag in gen
    assert "{" + ",".join(METHODS) + "}" in gen  # --method's choices are the registry's
    assert all(m.summary in gen for m in METHODS.values())  # one line per method, from the registry


ALIASES = [name for name in METHODS if name != "rpsg"]  # rpsg is `rpsg generate` itself
CAPABILITIES = {"generate", "account", "prepare", "adapt", "config-reference", "evaluate", "compare", "audit", "card"}


def test_the_command_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """The top level is the capabilities plus one alias per registered method but rpsg, listed with the method's
    summary; `bench` (scripts from a checkout) and `split` (now `audit split`) are gone."""
    _, top, _ = run(capsys, "--help")
    assert listed(top) == CAPABILITIES | set(ALIASES)
    assert all(shows(top, f"{name} {METHODS[name].summary} (= generate --method {name})") for name in ALIASES)
    for gone in ("bench", "split"):
        code, _, err = run(capsys, gone, "x")
        assert code == 2 and f"invalid choice: '{gone}'" in err


@pytest.mark.parametrize("name", ALIASES)
def test_alias_help_shows_the_method_summary(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, name, "--help")
    assert code == 0 and shows(out, METHODS[name].summary) and shows(out, f"rpsg generate --method {name}")
    for flag in ("--config", "--input", "--output", "--set", "--resume", "--overwrite", "--address"):
        assert flag in out
    assert not re.search(r"^ +--method", out, re.MULTILINE)  # the alias fixes the method


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize("name", ALIASES)
def test_alias_runs_generate_with_its_method(
    name: str, balanced: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rpsg NAME` is `rpsg generate --method NAME`: the one pipeline, the one summary, exit 1 when rows do not
    balance; --resume reaches the run for every method."""
    calls = []

    def generate(cfg: object, resume: bool, overwrite: bool, address: str | None) -> SimpleNamespace:
        calls.append((cfg, resume, overwrite, address))
        return SimpleNamespace(run_dir=tmp_path, manifest={"accounting": {"balanced": balanced}}, ledger="L")

    monkeypatch.setattr("rpsg_ray.pipeline.generate", generate)
    monkeypatch.setattr("rpsg_ray.report.terminal_summary", lambda d, m, ledger: f"summary of {d} {ledger}")
    code, out, _ = run(capsys, name, "--config", DEMO, "--output", str(tmp_path), "--resume", "--address", "auto")
    [(cfg, resume, overwrite, address)] = calls
    assert (cfg.method, cfg.output_dir, resume, overwrite, address) == (name, str(tmp_path), True, False, "auto")
    assert out.strip() == f"summary of {tmp_path} L" and code == (0 if balanced else 1)


def test_audit_has_three_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "--help")
    assert code == 0 and listed(out) == {"run", "canaries", "split"}
    code, out, err = run(capsys, "audit")  # no step: usage, exit 2, nothing run
    assert code == 2 and out == "" and err.startswith("usage: rpsg audit") and "required: STEP" in err


def test_output_has_one_spelling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--out` is no abbreviation of `--output`: argparse refuses it before anything is planted or split."""
    source = tmp_path / "private.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one film", "two films"], "label": ["x", "y"]}), source)
    for step in ("canaries", "split"):
        code, _, err = run(capsys, "audit", step, str(source), "--out", str(tmp_path / step))
        assert code == 2 and "required: --output" in err and not (tmp_path / step).exists()
    code, _, err = run(capsys, "evaluate", str(tmp_path), "--out", str(tmp_path / "eval"))
    assert code == 2 and "required: --output" in err


def test_script_entry_point_runs() -> None:
    """The one subprocess: `python -m rpsg_ray.cli` exits with main's code and prints one-line errors."""
    out = rpsg("account", "--epsilon", "1")
    assert out.returncode == 2
    expected = "error: privacy.delta is required when the counted number of private records is unknown"
    assert out.stderr.strip() == expected


def printed(text: str, name: str) -> float:
    return float(text.split(f"{name} = ")[1].split()[0])


@pytest.mark.parametrize(
    "flags",
    [
        ["--method", "augpe", "--delta", "1.1824e-6", "--iterations", "10"],
        ["--delta", "1e-5", "--candidates", "4", "--selections", "2"],
        ["--records", "2000", "--candidates", "3", "--selections", "1"],
    ],
)
def test_account_round_trip(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """ε → σ → ε comes back to 1e-6, through the same ledger code a run uses."""
    assert main(["account", "--epsilon", "1", *flags]) == 0
    sigma = printed(capsys.readouterr().out, "sigma")
    assert main(["account", "--sigma", repr(sigma), *flags]) == 0
    assert printed(capsys.readouterr().out, "epsilon") == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("method", list(METHODS))
def test_account_states_relation_n_and_scope(method: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every method's calculator output ends with the three sentences its run's ledger holds; DP-SGD's q comes
    from the declared public size, never the counted N."""
    args = ["account", "--method", method, "--public-records", "331", "--records", "300", "--batch-size", "64"]
    assert main([*args, *([] if method == "rupta" else ["--epsilon", "4"])]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines()[-3:]] == ["Neighbouring", "N", "Scope"]
    if method == "dpsgd":
        assert f"q={64 / 331:.4g}" in out


def test_account_prints_the_rpsg_dp_clip_that_buys_epsilon(capsys: pytest.CaptureFixture[str]) -> None:
    """rpsg_dp's calculator solves the clip for ε: the printed C, put back into the budget, spends that ε."""
    from rpsg_ray.privacy.private_prediction import PredictionBudget

    assert main(["account", "--method", "rpsg_dp", "--epsilon", "2", "--public-records", "2000"]) == 0
    out = capsys.readouterr().out
    clip, delta = float(out.split("clip C = ")[1].split(",")[0]), printed(out, "delta")
    assert PredictionBudget(clip, 16, 1.0, 48, 4).epsilon(delta) == pytest.approx(2.0, abs=1e-3)
    assert main(["account", "--method", "rpsg_dp", "--sigma", "1"]) != 0


def test_account_matches_the_published_augpe_sigma(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", "--method", "augpe", "--epsilon", "1", "--delta", "1.1824e-6", "--iterations", "10"]) == 0
    assert "sigma = 13.25" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--epsilon", "0", "--delta", "1e-5"],
        ["--epsilon", "1", "--delta", "1"],
        ["--epsilon", "1"],
        ["--epsilon", "1", "--delta", "0.01", "--records", "1000"],
    ],
)
def test_account_rejects_impossible_requests(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "account", *args)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err


def test_account_job_entrypoint(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """jobs/account.py (the `ray job submit` entrypoint) passes its arguments to `rpsg account`."""
    args = ["--epsilon", "4", "--delta", "1e-6", "--candidates", "4", "--selections", "2"]
    _, direct, _ = run(capsys, "account", *args)
    monkeypatch.setattr(sys, "argv", ["account.py", *args])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / "jobs" / "account.py"), run_name="__main__")
    assert done.value.code == 0 and capsys.readouterr().out == direct and "sigma = " in direct


@pytest.mark.parametrize(
    "case",
    [
        "empty_file",
        "wrong_columns_csv",
        "headerless_csv",
        "truncated_parquet",
        "missing_path",
        "symlink_loop",
        "header_only_csv",
        "broken_json_array",
    ],
)
def test_generate_bad_input_is_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = build(case, tmp_path / "in")
    code, out, err = run(capsys, "generate", "--config", DEMO, "--input", str(path), "--output", str(tmp_path / "run"))
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("error:")
    assert CANARY not in err + out and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize("override", ["privacy.delta=1", "rpsg.abstract.candidates=0", "oops.key=1"])
def test_generate_bad_config_is_one_line(override: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "generate", "--config", DEMO, "--set", override)
    assert code == 2 and err.startswith("error: invalid config") and "Traceback" not in err


def test_unexpected_error_log_holds_no_record_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library error that quotes a record (as KeyError and tokenizer errors do) reaches the traceback
    file without its message: frames and exception types only."""

    def generate(*_args: object, **_kwargs: object) -> None:
        try:
            {}[f"record: {CANARY}"]
        except KeyError as e:
            raise ValueError(f"cannot tokenize {CANARY!r}") from e

    monkeypatch.setattr("rpsg_ray.pipeline.generate", generate)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "generate", "--config", DEMO, "--output", str(tmp_path / "run"))
    assert code == 1 and err == "error: unexpected ValueError; traceback written to rpsg-error.log\n"
    log = (tmp_path / "rpsg-error.log").read_text()
    assert "builtins.KeyError" in log and "builtins.ValueError" in log and "in generate" in log
    assert CANARY not in log + out + err


def test_config_reference_matches_docs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config-reference")
    assert code == 0 and out == (ROOT / "docs" / "CONFIG.md").read_text(encoding="utf-8")


def test_verbose_turns_on_progress_logs() -> None:
    """-v sets the log level to INFO (checked in a fresh interpreter: pytest owns this one's logging)."""
    probe = "import logging, sys; from rpsg_ray.cli import main; main(sys.argv[1:]); print(logging.root.level)"
    levels = [
        subprocess.run([sys.executable, "-c", probe, *flags, "config-reference"], capture_output=True, text=True)
        for flags in (["-v"], [])
    ]
    assert [p.stdout.split()[-1] for p in levels] == [str(logging.INFO), str(logging.WARNING)]


def test_prepare_writes_the_demo_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo" / "rt.parquet"
    code, out, _ = run(capsys, "prepare", "--demo-data", str(target), "--demo-rows", "40")
    assert code == 0 and f"demo corpus: {target} (40 rows" in out
    models = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("model ")]
    assert len(models) == 2 and all(Path(m, "config.json").exists() for m in models)
    table = pq.read_table(target)
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    assert table.num_rows == 40 and len(set(ids)) == 40 and all(i.startswith("rt-") for i in ids)
    assert all(t.strip() for t in texts) and set(table.column("label").to_pylist()) == {"positive", "negative"}
    # the real splits are computed against these 40 rows, so they are written beside them, never over the
    # project's own splits (which are disjoint from the 2,000-row demo set)
    splits = [target.with_name(REAL_TEST.name), target.with_name(REAL_TRAIN.name)]
    assert all(f"{p} (" in out for p in splits)
    assert not any(set(ids) & set(pq.read_table(p).column("id").to_pylist()) for p in splits)
