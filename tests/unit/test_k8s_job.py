"""`splice k8s job`: the Indexed Job it writes is valid against Kubernetes' published
schemas (kubernetes-validate bundles them), runs `splice run --shard k8s/N` in each pod
with the token from a Secret and the run id from the Job's uid; bad names are usage errors."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from splice._internal.cli.main import cli
from splice._internal.errors import UsageError
from splice._internal.shards.k8s import JobSpec, check_name, job_name, manifest, to_yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

# the label the run id comes from is on Job pods since 1.27; oldest and newest checked
VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]


def _job(**kwargs: object) -> dict[str, object]:
    spec = JobSpec(
        **{
            "name": "splice-shop",
            "image": "registry.example/shop-tests:1.4",
            "parallelism": 4,
            "report_to": "http://splice.ci.svc:8470",
            "token_secret": "splice-token/write",
            **kwargs,
        }  # type: ignore[arg-type]
    )
    return manifest(spec)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_manifest_is_valid_against_the_published_schemas(version: str) -> None:
    """Strict validation (no unknown field anywhere), as printed (YAML) and as built."""
    job = _job(namespace="ci", workdir="/src", run_args=["tests/", "-k", "orders"])
    kubernetes_validate.validate(job, version, strict=True)
    kubernetes_validate.validate(yaml.safe_load(to_yaml(job)), version, strict=True)


def test_a_wrong_field_fails_the_same_validation() -> None:
    """The check is real: a misspelt container field is refused."""
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["imag"] = "x"  # type: ignore[index]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSIONS[-1], strict=True)


def test_each_pod_runs_its_shard_with_the_token_from_a_secret() -> None:
    """Indexed, N completions and pods; the args take the shard from the Job index; the
    token is a secretKeyRef and the run id the Job's uid, never a literal value."""
    job = _job()
    spec = job["spec"]
    assert isinstance(spec, dict)
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 4
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"][:3] == ["run", "--shard", "k8s/4"]
    assert container["args"][3:6] == ["--report-to", "http://splice.ci.svc:8470", "--no-store"]
    env = {e["name"]: e["valueFrom"] for e in container["env"]}
    assert env["SPLICE_TOKEN"] == {"secretKeyRef": {"name": "splice-token", "key": "write"}}
    label = "metadata.labels['batch.kubernetes.io/controller-uid']"
    assert env["SPLICE_RUN_ID"] == {"fieldRef": {"fieldPath": label}}
    assert all("value" not in e for e in container["env"])


def test_the_command_prints_the_manifest_and_passes_arguments_on() -> None:
    """`splice k8s job ... -- tests/ -k x`: the Job's args end with what follows `--`."""
    result = CliRunner().invoke(
        cli,
        [
            "k8s",
            "job",
            "-n",
            "2",
            "--image",
            "img:1",
            "--name",
            "nightly",
            "--",
            "tests/",
            "-k",
            "x",
        ],
    )
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.output)
    assert job["metadata"]["name"] == "nightly"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-3:] == ["tests/", "-k", "x"]
    kubernetes_validate.validate(job, VERSIONS[-1], strict=True)


def test_bad_names_are_usage_errors() -> None:
    """A Job or Secret name Kubernetes would refuse is refused here, with a hint."""
    with pytest.raises(UsageError) as caught:
        check_name("Shop_Tests")
    assert caught.value.hint
    with pytest.raises(UsageError):
        manifest(JobSpec(name="a", image="i", parallelism=1, token_secret="Bad Name"))
    assert job_name("Shop & Co.") == "splice-shop-co"
    assert job_name("!!!") == "splice"
    result = CliRunner().invoke(
        cli, ["k8s", "job", "-n", "2", "--image", "i", "--token-secret", "t"]
    )
    assert result.exit_code == 2
    assert "--report-to" in result.output
