"""The GitHub Actions workflows cannot run here, so they are checked as far as they can be:
actionlint on every file, and every command, path, cargo profile, extra and index_builder
subcommand they name exists in this repository and works."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
LOCAL_ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
EXPECTED = {"ci.yml", "wheels.yml", "release.yml", "build-indices.yml", "docs.yml"}
BUILTIN_PROFILES = {"dev", "release", "test", "bench"}


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOW_DIR / name)


class Step:
    def __init__(self, file: Path, job: str, step: dict[str, Any], job_doc: dict[str, Any]) -> None:
        self.file, self.job, self.doc = file, job, step
        defaults = job_doc.get("defaults", {}).get("run", {})
        self.workdir = step.get("working-directory", defaults.get("working-directory", "."))
        self.env = {**job_doc.get("env", {}), **step.get("env", {})}

    @property
    def where(self) -> str:
        return f"{self.file.name}: job {self.job}, step {self.doc.get('name') or self.doc.get('uses') or self.doc.get('id')}"

    @property
    def run(self) -> str:
        return str(self.doc.get("run", ""))

    @property
    def uses(self) -> str:
        return str(self.doc.get("uses", ""))

    @property
    def with_(self) -> dict[str, Any]:
        return dict(self.doc.get("with", {}))


def steps() -> Iterator[Step]:
    for path in WORKFLOWS:
        for job, job_doc in load(path).get("jobs", {}).items():
            for step in job_doc.get("steps", []):
                yield Step(path, job, step, job_doc)
    for path in LOCAL_ACTIONS:
        for step in load(path)["runs"].get("steps", []):
            yield Step(path, "(composite)", step, {})


REDIRECT = re.compile(r"\d?>>?|<")


def commands(script: str) -> Iterator[list[str]]:
    """The simple commands of a run block (and of its $(...) substitutions), continuation lines
    joined, split like the shell, redirections dropped."""
    joined = re.sub(r"\\\n\s*", " ", script)
    lines = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        lines += re.findall(r"\$\(([^()]*)\)", line)
        lines.append(line)
    for line in lines:
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value command
                words = words[1:]
            cut = next((i for i, w in enumerate(words) if REDIRECT.fullmatch(w)), len(words))
            if words[:cut]:
                yield words[:cut]


def all_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [*WORKFLOWS, *LOCAL_ACTIONS])


def cargo_profiles() -> set[str]:
    text = (ROOT / "rust" / "Cargo.toml").read_text(encoding="utf-8")
    return BUILTIN_PROFILES | set(re.findall(r"^\[profile\.([\w-]+)\]", text, flags=re.MULTILINE))


def extras(pyproject: Path) -> set[str]:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return set(project.get("optional-dependencies", {}))


def venv_env() -> dict[str, str]:
    """The environment with this interpreter's scripts first on PATH (actionlint, idc, ...)."""
    bindir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))


# ----------------------------------------------------------------------------------- actionlint


def test_every_workflow_of_the_issue_is_there():
    assert {p.name for p in WORKFLOWS} >= EXPECTED


def test_actionlint_finds_nothing():
    exe = shutil.which("actionlint", path=venv_env()["PATH"])
    assert exe, "actionlint is not installed: pip install -e '.[test]' (it ships the binary)"
    files = [str(p.relative_to(ROOT)) for p in WORKFLOWS]
    done = subprocess.run([exe, "-oneline", *files], cwd=ROOT, env=venv_env(), check=False,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"actionlint:\n{done.stdout}{done.stderr}"


def test_workflows_parse_and_every_job_has_steps_or_calls_a_workflow():
    for path in WORKFLOWS:
        doc = load(path)
        assert doc.get("on"), path.name
        for name, job in doc["jobs"].items():
            assert job.get("steps") or job.get("uses"), f"{path.name}: job {name}"


# ------------------------------------------------------------------------- paths and local uses


PATH_RE = re.compile(r"(?<![\w$/.-])((?:\./)?(?:scripts|rust|python|index_builder|docs|tests|\.github)/[\w./*-]*[\w*])")


def test_every_path_a_run_block_names_exists():
    missing = []
    for step in steps():
        base = ROOT / step.workdir
        for path in PATH_RE.findall(step.run):
            candidates = [base / path, ROOT / path]
            if not any(list(c.parent.glob(c.name)) if "*" in path else c.exists() for c in candidates):
                missing.append(f"{step.where}: {path}")
    assert not missing, missing


def test_scripts_run_by_the_workflows_exist():
    named = [w for step in steps() for cmd in commands(step.run) for w in cmd[1:2] if cmd[0] in {"bash", "python"}
             and w.endswith((".sh", ".py"))]
    assert "scripts/lint.sh" in named and "scripts/requirements.py" in named
    for script in named:
        assert (ROOT / script).is_file(), script


def test_working_directories_and_local_actions_exist():
    for step in steps():
        if "${{" not in step.workdir:  # else a directory the job itself makes (an artifact)
            assert (ROOT / step.workdir).is_dir(), step.where
        if step.uses.startswith("./"):
            target = ROOT / step.uses
            assert (target / "action.yml").is_file() or target.is_file(), step.where
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            if str(job.get("uses", "")).startswith("./"):
                assert (ROOT / job["uses"]).is_file(), f"{path.name}: job {name}"


def test_hashfiles_patterns_match_files():
    """hashFiles() of a pattern that matches nothing is '', which would silently drop that
    part of a cache key."""
    patterns = re.findall(r"hashFiles\(([^)]*)\)", all_text())
    assert patterns
    for args in patterns:
        for pattern in re.findall(r"'([^']+)'", args):
            assert list(ROOT.glob(pattern)), f"hashFiles('{pattern}') matches no file"


# ------------------------------------------------------------------- cargo, maturin and extras


def profiles_named() -> list[tuple[str, str]]:
    found = []
    for step in steps():
        texts = [step.run, str(step.with_.get("args", "")), *map(str, step.env.values())]
        for text in texts:
            found += [(step.where, p) for p in re.findall(r"--profile[ =]([\w-]+)", text)]
        found += [(step.where, step.with_["profile"]) for _ in [0] if "profile" in step.with_]
    for path in WORKFLOWS:
        for value in load(path).get("env", {}).values():
            found += [(path.name, p) for p in re.findall(r"--profile[ =]([\w-]+)", str(value))]
    return found


def test_every_cargo_profile_named_exists():
    named = profiles_named()
    assert {p for _, p in named} >= {"ci", "dist"}
    known = cargo_profiles()
    assert not [(w, p) for w, p in named if p not in known], known


def test_dist_profile_is_thin_lto():
    text = (ROOT / "rust" / "Cargo.toml").read_text(encoding="utf-8")
    dist = re.search(r"^\[profile\.dist\]\n(.*?)(?=^\[|\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert dist and re.search(r'^lto = "thin"$', dist.group(1), flags=re.MULTILINE)


def maturin_steps() -> list[Step]:
    return [s for s in steps() if s.uses.lower().startswith("pyo3/maturin-action@")]


def test_maturin_action_builds_the_real_manifest_with_the_dist_profile():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    manifest = re.search(r'^manifest-path = "([^"]+)"', pyproject, flags=re.MULTILINE)
    assert manifest and (ROOT / manifest.group(1)).is_file()
    builds = [s for s in maturin_steps() if s.with_.get("command", "build") == "build"]
    assert builds and any(s.with_.get("command") == "sdist" for s in maturin_steps())
    for step in maturin_steps():
        args = shlex.split(str(step.with_.get("args", "")))
        for flag in ("-m", "--manifest-path"):
            if flag in args:
                assert (ROOT / args[args.index(flag) + 1]).is_file(), step.where
        # without -m, maturin reads [tool.maturin] of the pyproject.toml in the working directory
        assert step.workdir == "." and "working-directory" not in step.with_, step.where
    for step in builds:
        args = str(step.with_["args"])
        assert "--profile dist" in args and "--release" not in args, step.where  # cargo refuses both


def test_wheels_cover_every_platform_of_the_issue():
    build = workflow("wheels.yml")["jobs"]["build"]["strategy"]["matrix"]["include"]
    platforms = {(m["runner"].split("-")[0], m["target"], m["manylinux"]) for m in build}
    assert platforms == {("ubuntu", "x86_64", "2_28"), ("ubuntu", "aarch64", "2_28"), ("macos", "aarch64", ""),
                         ("macos", "x86_64", ""), ("windows", "x64", "")}
    smoke = workflow("wheels.yml")["jobs"]["smoke-test"]
    assert {m["name"] for m in smoke["strategy"]["matrix"]["include"]} == {m["name"] for m in build}
    assert any("idc collections" in s.get("run", "") for s in smoke["steps"])
    assert not any("actions/checkout" in s.get("uses", "") for s in smoke["steps"])  # the wheel, not the sources
    assert "idc = " in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_idc_commands_in_workflows_exist():
    from click.testing import CliRunner
    from idc_index.cli import idc

    used = {cmd[1] for step in steps() for cmd in commands(step.run) if cmd[0] == "idc" and len(cmd) > 1}
    assert "collections" in used
    for sub in used:
        result = CliRunner().invoke(idc, [sub, "--help"])
        assert result.exit_code == 0, (sub, result.output)


EXTRA_RE = re.compile(r"""(?:^|[\s"'])(\.|\./index_builder|index_builder)\[([\w,-]+)\]""")


def test_every_pyproject_extra_named_exists():
    named: list[tuple[str, str, str]] = []
    for step in steps():
        for target, group in EXTRA_RE.findall(step.run):
            named += [(step.where, target, e) for e in group.split(",")]
        for cmd in commands(step.run):
            if cmd[:2] == ["python", "scripts/requirements.py"]:
                named += [(step.where, ".", e) for e in cmd[2:] if not e.startswith("-")]
            if "--extras" in cmd:
                named += [(step.where, ".", e) for e in cmd[cmd.index("--extras") + 1].split(",")]
    assert {(t, e) for _, t, e in named} >= {(".", "lint"), (".", "test"), (".", "docs")}
    for where, target, extra in named:
        root = ROOT if target == "." else ROOT / "index_builder"
        assert extra in extras(root / "pyproject.toml"), f"{where}: no extra [{extra}] in {target}/pyproject.toml"


def test_requirements_script_prints_an_installable_list():
    if sys.version_info < (3, 11):
        pytest.skip("scripts/requirements.py reads pyproject.toml with tomllib (Python 3.11+)")
    done = subprocess.run([sys.executable, "scripts/requirements.py", "docs", "--dependencies"], cwd=ROOT,
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert any(line.startswith("mkdocs") for line in lines) and any(line.startswith("pyarrow") for line in lines)
    bad = subprocess.run([sys.executable, "scripts/requirements.py", "no-such-extra"], cwd=ROOT,
                         check=False, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "docs" in bad.stderr


# ------------------------------------------------------------------------------- index_builder


def builder_commands() -> list[tuple[Step, list[str]]]:
    found = []
    for step in steps():
        for cmd in commands(step.run):
            if cmd[:3] == ["python", "-m", "index_builder"] and len(cmd) > 3:
                found.append((step, cmd[3:]))
    return found


def test_index_builder_subcommands_and_options_used_exist():
    pytest.importorskip("index_builder", reason="index_builder needs Python 3.10+ (scripts/test.sh installs it)")
    used = builder_commands()
    assert {args[0] for _, args in used} >= {"newest-version", "plan", "build", "verify", "diff", "package", "fixture"}
    helps: dict[str, str] = {}
    for step, args in used:
        sub = args[0]
        if sub not in helps:
            done = subprocess.run([sys.executable, "-m", "index_builder", sub, "--help"], cwd=ROOT / "index_builder",
                                  check=False, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{step.where}: index_builder {sub}: {done.stderr}"
            helps[sub] = done.stdout
        for option in (a.split("=", 1)[0] for a in args[1:] if a.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", helps[sub]), f"{step.where}: {sub} {option}"


def test_the_offline_index_builder_job_runs_here(tmp_path):
    """ci.yml's index_builder job, its build step run as written (RUNNER_TEMP is a temp dir)."""
    pytest.importorskip("index_builder", reason="index_builder needs Python 3.10+ (scripts/test.sh installs it)")
    job = workflow("ci.yml")["jobs"]["index_builder"]
    [build] = [s for s in job["steps"] if "python -m index_builder build" in s.get("run", "")]
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    env = dict(venv_env(), RUNNER_TEMP=str(tmp_path))
    done = subprocess.run([bash, "-euo", "pipefail", "-c", build["run"]], cwd=ROOT / build["working-directory"],
                          env=env, check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "release" / "manifest.json").is_file()
    assert list((tmp_path / "dist").glob("idc_index_data-25.0.0-py3-none-any.whl"))


# --------------------------------------------------------------------------- build-indices.yml


def test_build_indices_cache_is_keyed_on_the_release_and_the_queries():
    caches = [s for s in steps() if s.file.name == "build-indices.yml" and s.uses.startswith("actions/cache")]
    assert caches
    restore = [s for s in caches if "restore" in s.uses or s.uses.startswith("actions/cache@")]
    for step in restore:
        key = str(step.with_["key"])
        assert "needs.plan.outputs.release" in key, step.where
        assert "hashFiles('index_builder/index_builder/queries/*.sql')" in key, step.where
    for step in caches:
        if "save" in step.uses:
            assert step.with_["key"] == "${{ steps.cache.outputs.cache-primary-key }}", step.where


def test_build_indices_authenticates_by_workload_identity_only():
    text = (WORKFLOW_DIR / "build-indices.yml").read_text(encoding="utf-8")
    auth = [s for s in steps() if s.uses.startswith("google-github-actions/auth@")]
    assert auth
    for step in auth:
        assert set(step.with_) >= {"workload_identity_provider", "service_account"}, step.where
        assert "credentials_json" not in step.with_, step.where
        assert "vars." in str(step.with_["workload_identity_provider"]) + str(step.with_["service_account"])
    assert "credentials_json" not in text and "GOOGLE_APPLICATION_CREDENTIALS:" not in text
    for name, job in workflow("build-indices.yml")["jobs"].items():
        uses_auth = any(str(s.get("uses", "")).startswith("google-github-actions/auth@") for s in job["steps"])
        if uses_auth:
            assert job["permissions"]["id-token"] == "write", name


def test_build_indices_dry_runs_before_it_builds_and_diffs_before_it_publishes():
    jobs = workflow("build-indices.yml")["jobs"]
    runs = [s.get("run", "") for s in jobs["build"]["steps"]]
    dry = next(i for i, r in enumerate(runs) if "index_builder build --dry-run" in r)
    real = next(i for i, r in enumerate(runs) if "index_builder build " in r and "--dry-run" not in r)
    diff = next(i for i, r in enumerate(runs) if "index_builder diff" in r)
    assert dry < real < diff
    assert "--max-bytes-billed" in runs[dry] and "--max-bytes-billed" in runs[real]
    assert jobs["publish"]["needs"] == ["plan", "build"]
    assert set(workflow("build-indices.yml")["on"]) == {"schedule", "workflow_dispatch"}
    assert {"release", "force"} <= set(workflow("build-indices.yml")["on"]["workflow_dispatch"]["inputs"])


# ------------------------------------------------------------------------------ release, docs


def test_pypi_publishing_is_trusted_publishing_from_an_environment():
    publishers = []
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            if any(str(s.get("uses", "")).startswith("pypa/gh-action-pypi-publish@") for s in job.get("steps", [])):
                publishers.append(path.name)
                assert job["permissions"]["id-token"] == "write", (path.name, name)
                assert job.get("environment"), (path.name, name)
                for s in job["steps"]:
                    assert "password" not in s.get("with", {}), (path.name, name)  # no API token
    assert sorted(publishers) == ["build-indices.yml", "release.yml"]
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["jobs"]["wheels"]["uses"] == "./.github/workflows/wheels.yml"
    assert "workflow_call" in workflow("wheels.yml")["on"]


def test_docs_are_built_strictly_and_deployed_to_pages():
    docs = workflow("docs.yml")
    runs = " ".join(s.get("run", "") for s in docs["jobs"]["build"]["steps"])
    assert "mkdocs build --strict" in runs
    uses = [s.get("uses", "") for job in docs["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert docs["on"]["push"]["branches"] == ["main"]
    assert (ROOT / "mkdocs.yml").is_file()


def test_ci_runs_the_checks_of_the_issue():
    ci = workflow("ci.yml")
    text = (WORKFLOW_DIR / "ci.yml").read_text(encoding="utf-8")
    assert "bash scripts/lint.sh" in text
    lint = (ROOT / "scripts" / "lint.sh").read_text(encoding="utf-8")
    for check in ("ruff check", "mypy", "mypy.stubtest idc_index._core", "cargo fmt", "cargo clippy", "-D warnings"):
        assert check in lint, check
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]
    assert {o.split("-")[0] for o in matrix["os"]} == {"ubuntu", "macos", "windows"}
    assert "3.9" in matrix["python"]
    assert "cargo test --profile ci" in text and "python -m pytest" in text and "mkdocs build --strict" in text


def test_no_untrusted_input_is_expanded_inside_a_run_block():
    """Inputs and event fields reach scripts through env:, never spliced into the shell text."""
    for step in steps():
        assert not re.search(r"\$\{\{\s*(inputs|github\.event)\.", step.run), step.where
