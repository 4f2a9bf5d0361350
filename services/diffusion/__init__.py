"""What the diffusion stages share: text tensors, trajectories, schedulers, step batching helpers."""
