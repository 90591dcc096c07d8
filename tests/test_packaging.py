"""What an ordinary install carries: every subpackage and the shipped inverter's files."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_and_the_models_are_declared_for_an_ordinary_install():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(conf["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "unembed").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert on_disk <= declared, f"not installed by `pip install .`: {sorted(on_disk - declared)}"
    assert all((ROOT / pkg.replace(".", "/") / "__init__.py").exists() for pkg in declared if pkg.startswith("unembed."))
    assert conf["package-dir"]["unembed_models"] == "models"
    stages = [p for p in (ROOT / "models" / "minilm").iterdir() if p.is_dir()]
    assert stages and all(any(f.is_file() for f in s.iterdir()) for s in stages)
