"""Kubernetes API clients from a kubeconfig, or the pod's service account inside the cluster."""

from collections.abc import Mapping


class Clients:
    def __init__(self, api):
        from kubernetes import client

        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    def dynamic(self):
        """Built on demand: it reads the API server's discovery documents."""
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.api)


def connect(environ: Mapping[str, str], kubeconfig: str | None = None, context: str | None = None) -> Clients:
    from kubernetes import client, config

    if kubeconfig is None and context is None and "KUBERNETES_SERVICE_HOST" in environ:
        config.load_incluster_config()
    else:
        config.load_kube_config(config_file=kubeconfig, context=context)
    return Clients(client.ApiClient())
