"""Conversions of a real archive, exported from the generated sandbox world by the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from convert_validators.mattermost import validate_bulk_zip
from convert_validators.rocketchat import validate_rocketchat_zip
from convert_validators.slack import validate_slack_zip
from convert_validators.zulip import validate_zulip_zip

from mmtakeout.convert import ConvertOptions, convert_archive

VALIDATORS = {
    "mattermost": validate_bulk_zip,
    "zulip": validate_zulip_zip,
    "slack": validate_slack_zip,
    "rocketchat-csv": validate_rocketchat_zip,
}


@pytest.mark.parametrize("target", sorted(VALIDATORS))
def test_a_real_export_converts_into_valid_files(exported_archive: Path, tmp_path: Path, target: str) -> None:
    out = tmp_path / f"{target}.zip"
    report = convert_archive(exported_archive, target, out, ConvertOptions())
    assert VALIDATORS[target](out) == []
    assert report.carried["posts"] > 500
    direct_only = tmp_path / f"{target}-direct.zip"
    convert_archive(exported_archive, target, direct_only, ConvertOptions(direct_only=True))
    assert VALIDATORS[target](direct_only) == []
