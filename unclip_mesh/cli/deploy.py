"""`unclip-mesh deploy render|apply|status|scale|kustomize`: the mesh on Kubernetes.

render prints the manifests for the given options; apply server-side-applies them; status shows each
stage's desired/ready replicas and load; scale sets a stage's replicas; kustomize regenerates
deploy/.
"""

import argparse
import os
import sys

from unclip_mesh.deploy.stages import all_stages

DEFAULT_NAMESPACE = "unclip"


def _stage_pool(text: str) -> tuple[str, str]:
    stage, _, pool = text.partition("=")
    if stage not in all_stages() or not pool:
        raise argparse.ArgumentTypeError(f"expected STAGE=POOL with STAGE one of {', '.join(all_stages())}")
    return stage, pool


def _render_arguments(parser: argparse.ArgumentParser) -> None:
    from unclip_mesh.deploy.options import DEFAULT_LOAD_METRIC, DEFAULT_PROMETHEUS_URL, SCALERS
    from unclip_mesh.deploy.profiles import OVERLAYS

    group = parser.add_argument_group("manifests")
    group.add_argument("--overlay", choices=OVERLAYS, default="cpu-demo")
    group.add_argument("--namespace", help="default: the overlay's (cpu-demo: unclip-demo, gpu: unclip)")
    group.add_argument(
        "--image",
        metavar="[REGISTRY/]NAME[:VERSION]",
        help="the family of role images: each stage runs NAME-ROLE:VERSION, model "
        "stages NAME-model:VERSION-DEVICE (default: unclip-mesh:0.1.0; no "
        "VERSION: the overlay's)",
    )
    group.add_argument(
        "--node-pool",
        type=_stage_pool,
        action="append",
        default=[],
        metavar="STAGE=POOL",
        help="repeatable: put STAGE on node pool POOL",
    )
    group.add_argument(
        "--pool-label",
        default="unclip-mesh/node-pool",
        help="the node label naming a node's pool (default %(default)s)",
    )
    group.add_argument("--storage-class", help="storage class of the model bundle's claim")
    group.add_argument(
        "--scaler",
        choices=SCALERS,
        default="hpa",
        help="hpa: HorizontalPodAutoscalers on the load metric (through a metrics "
        "adapter) with a CPU fallback; keda: KEDA ScaledObjects on the same "
        "load queried from Prometheus (default %(default)s)",
    )
    group.add_argument("--load-metric", default=DEFAULT_LOAD_METRIC)
    group.add_argument(
        "--prometheus-url",
        default=DEFAULT_PROMETHEUS_URL,
        help="the Prometheus KEDA queries (default %(default)s)",
    )
    group.add_argument(
        "--monitoring",
        action="store_true",
        help="add a PodMonitor per stage and the PrometheusRule of the alerts (Prometheus Operator kinds)",
    )
    group.add_argument("--cluster-domain", default="cluster.local")


def _cluster_arguments(parser: argparse.ArgumentParser, namespace: bool = True) -> None:
    group = parser.add_argument_group("cluster")
    group.add_argument(
        "--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config; inside a pod, its service account"
    )
    group.add_argument("--context", help="kubeconfig context")
    if namespace:
        group.add_argument("--namespace", default=DEFAULT_NAMESPACE)


def _metrics_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-via",
        choices=("proxy", "direct"),
        default="proxy",
        help="read pod metrics through the API server's pod proxy or, from inside "
        "the cluster, from pod IPs (default %(default)s)",
    )


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("deploy", help="deploy and operate the mesh on Kubernetes")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    _render_arguments(actions.add_parser("render", help="print the manifests"))
    apply = actions.add_parser("apply", help="server-side apply the manifests")
    _render_arguments(apply)
    _cluster_arguments(apply, namespace=False)
    apply.add_argument("--dry-run", action="store_true", help="let the API server check, not persist")
    status = actions.add_parser("status", help="per stage: desired and ready replicas, load")
    _cluster_arguments(status)
    _metrics_argument(status)
    scale = actions.add_parser("scale", help="set a stage's replicas")
    scale.add_argument("stage", choices=all_stages())
    scale.add_argument("replicas", type=int)
    _cluster_arguments(scale)
    kustomize = actions.add_parser("kustomize", help="regenerate the kustomize tree")
    kustomize.add_argument("output", nargs="?", default="deploy")


def _options(args):
    from unclip_mesh.deploy.options import RenderOptions

    return RenderOptions(
        overlay=args.overlay,
        namespace=args.namespace,
        image=args.image,
        node_pools=dict(args.node_pool),
        pool_label=args.pool_label,
        storage_class=args.storage_class,
        scaler=args.scaler,
        load_metric=args.load_metric,
        prometheus_url=args.prometheus_url,
        monitoring=args.monitoring,
        cluster_domain=args.cluster_domain,
    )


def _load_reader(args, clients):
    from unclip_mesh.deploy.load import LoadReader, direct, via_proxy

    fetch = via_proxy(clients.core) if args.metrics_via == "proxy" else direct()
    return LoadReader(clients.core, args.namespace, fetch)


def _render(args) -> int:
    from unclip_mesh.deploy.render import render, to_yaml

    sys.stdout.write(to_yaml(render(_options(args))))
    return 0


def _apply(args) -> int:
    from unclip_mesh.deploy.actions import apply
    from unclip_mesh.deploy.clients import connect
    from unclip_mesh.deploy.render import render

    objects = render(_options(args))
    clients = connect(os.environ, args.kubeconfig, args.context)
    for applied in apply(clients.dynamic(), objects, dry_run=args.dry_run):
        print(f"applied {applied}{' (dry run)' if args.dry_run else ''}")
    return 0


def _status(args) -> int:
    from unclip_mesh.deploy.actions import format_status, status
    from unclip_mesh.deploy.clients import connect

    clients = connect(os.environ, args.kubeconfig, args.context)
    print(format_status(status(clients.apps, args.namespace, _load_reader(args, clients))))
    return 0


def _scale(args) -> int:
    from unclip_mesh.deploy.actions import scale
    from unclip_mesh.deploy.clients import connect

    clients = connect(os.environ, args.kubeconfig, args.context)
    scale(clients.apps, args.namespace, args.stage, args.replicas)
    print(f"{args.stage}: scaled to {args.replicas}")
    return 0


def _kustomize(args) -> int:
    from pathlib import Path

    from unclip_mesh.deploy.kustomize import write_tree

    for path in write_tree(Path(args.output)):
        print(f"wrote {path}")
    return 0


_ACTIONS = {"render": _render, "apply": _apply, "status": _status, "scale": _scale, "kustomize": _kustomize}


def run(args) -> int:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    try:
        return _ACTIONS[args.action](args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ApiException, ConfigException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
