"""Kubernetes deployment of the mesh: manifests built from Python data, the kustomize tree derived
from them, and the `unclip-mesh deploy` actions (apply, status, scale) on the kubernetes
client. Nothing here imports the model code."""
