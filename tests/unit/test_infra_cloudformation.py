"""The Amazon MQ -> webhook CloudFormation template passes cfn-lint and relays what the app accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra/cloudformation/amazonmq_to_webhook.yml"


class _CfnLoader(yaml.SafeLoader):
    """Reads !Ref/!Sub/!GetAtt tags as plain values (structure checks only)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_template_passes_cfn_lint() -> None:
    runner = "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"
    result = subprocess.run(
        [sys.executable, "-c", runner, str(TEMPLATE)], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_relay_signs_the_body_the_way_the_app_checks_it() -> None:
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    code = template["Resources"]["RelayFunction"]["Properties"]["Code"]["ZipFile"]
    assert "x-cardflow-signature" in code and "sha256=" in code
    compile(code, "relay.py", "exec")
    mapping = template["Resources"]["QueueToRelay"]["Properties"]
    assert {c["Type"] for c in mapping["SourceAccessConfigurations"]} == {"BASIC_AUTH", "VIRTUAL_HOST"}
