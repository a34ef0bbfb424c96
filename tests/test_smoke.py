from tests.conftest import run_cli


def test_cli_capture_runs_in_a_child_process(tmp_path):
    result = run_cli("plugin.build", "success", "320", "CLI", "--file", str(tmp_path / "t.json"))
    assert result.returncode == 0, result.stderr
