from pathlib import Path

import pytest
from pydantic import ValidationError

from gfm.config import Config


def test_defaults_put_every_output_under_the_data_dir():
    cfg = Config.load(environ={})
    assert cfg.data_dir == Path(".gfm")
    for path in (
        cfg.raw_dir,
        cfg.warehouse_path,
        cfg.marts_dir,
        cfg.feast_dir,
        cfg.models_dir,
        cfg.reports_dir,
    ):
        assert path.is_relative_to(cfg.data_dir)
    assert cfg.milvus_uri.startswith(".gfm")


def test_precedence_yaml_then_env_then_arguments(tmp_path):
    path = tmp_path / "gfm.yaml"
    path.write_text("hgnn:\n  epochs: 3\n  lr: 0.1\nsplit:\n  eval_days: 7\n")
    env = {"GFM__HGNN__EPOCHS": "5", "GFM_DATA_DIR": str(tmp_path / "env")}
    cfg = Config.load(path, environ=env)
    assert cfg.hgnn.epochs == 5 and cfg.hgnn.lr == 0.1 and cfg.split.eval_days == 7
    assert cfg.data_dir == tmp_path / "env"
    cfg = Config.load(path, data_dir=tmp_path / "arg", environ=env, overrides={"hgnn": {"epochs": 9}})
    assert cfg.hgnn.epochs == 9 and cfg.hgnn.lr == 0.1 and cfg.data_dir == tmp_path / "arg"


def test_env_selects_the_scale_out_feature_store():
    cfg = Config.load(environ={"GFM__FEATURES__MODE": "scale_out"})
    assert cfg.features.mode == "scale_out"


def test_unknown_keys_and_bad_types_are_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("hgnn:\n  epocs: 3\n")
    with pytest.raises(ValidationError, match="epocs"):
        Config.load(path, environ={})
    with pytest.raises(ValidationError):
        Config.load(environ={"GFM__HGNN__EPOCHS": "many"})


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        Config.load(tmp_path / "nope.yaml", environ={})
