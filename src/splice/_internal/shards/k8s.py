"""A Kubernetes Indexed Job that runs a suite as N static shards (`splice k8s job`).

Pod I (`$JOB_COMPLETION_INDEX`, from 0) runs `splice run --shard k8s/N`, which is shard
I+1 of N. All pods report to one `splice serve` with the same run id: the Job's uid, which
Kubernetes puts on every pod of the Job as the label `batch.kubernetes.io/controller-uid`
and the downward API hands to the container as $SPLICE_RUN_ID. The write token comes from
a Secret, never from the manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from splice._internal.errors import UsageError

JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_KEY = re.compile(r"[-._a-zA-Z0-9]+")


@dataclass
class JobSpec:
    name: str
    image: str
    parallelism: int
    report_to: str | None = None
    token_secret: str | None = None  # NAME or NAME/KEY
    namespace: str | None = None
    workdir: str | None = None
    run_args: list[str] = field(default_factory=list)  # paths, -k, --var… for `splice run`
    backoff_limit: int = 0
    durations: str | None = None  # a durations file inside the image


def _secret(value: str) -> tuple[str, str]:
    name, _, key = value.partition("/")
    key = key or "token"
    if not _NAME.fullmatch(name) or len(name) > 253 or not _KEY.fullmatch(key):
        raise UsageError(
            f"--token-secret {value!r} is not a Secret's NAME or NAME/KEY",
            "a Secret's name is lower-case letters, digits and '-' (e.g. splice-token/token)",
        )
    return name, key


def check_name(value: str) -> str:
    if not _NAME.fullmatch(value) or len(value) > 63:
        raise UsageError(
            f"--name {value!r} is not a Kubernetes Job name",
            "use up to 63 lower-case letters, digits and '-', starting and ending with a "
            "letter or digit",
        )
    return value


def job_name(project: str) -> str:
    """A Job name made of the project's name (`splice-shop`), valid whatever that is."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", project.lower()).strip("-")
    return ("splice-" + cleaned)[:63].rstrip("-") if cleaned else "splice"


def manifest(spec: JobSpec) -> dict[str, Any]:
    """The Job as a plain dict (YAML- and JSON-ready)."""
    args = ["run", "--shard", f"k8s/{spec.parallelism}"]
    env: list[dict[str, Any]] = [
        {
            "name": "SPLICE_RUN_ID",
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_UID_LABEL}']"}},
        }
    ]
    if spec.report_to:
        args += ["--report-to", spec.report_to, "--no-store"]
    if spec.token_secret:
        name, key = _secret(spec.token_secret)
        env.append(
            {"name": "SPLICE_TOKEN", "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        )
    if spec.durations:
        args += ["--durations", spec.durations]
    args += list(spec.run_args)
    container: dict[str, Any] = {
        "name": "splice",
        "image": spec.image,
        "command": ["splice"],
        "args": args,
        "env": env,
    }
    if spec.workdir:
        container["workingDir"] = spec.workdir
    metadata: dict[str, Any] = {"name": spec.name, "labels": {"app.kubernetes.io/name": "splice"}}
    if spec.namespace:
        metadata["namespace"] = spec.namespace
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.parallelism,
            "parallelism": spec.parallelism,
            # a shard that failed its tests is a result, not a pod to run again
            "backoffLimit": spec.backoff_limit,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "splice"}},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def to_yaml(job: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(job, sort_keys=False, default_flow_style=False, width=100)
