"""Spherical interpolation of CLIP embeddings, as the unCLIP paper uses for blends and text diffs."""

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rows of a and b ([1, D] or [N, D]) interpolated along the great circle at fractions t ([N]).

    Directions are interpolated; the norm moves linearly from |a| to |b|. Nearly parallel rows fall
    back to linear interpolation of the directions.
    """
    norm_a, norm_b = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    unit_a, unit_b = a / norm_a, b / norm_b
    t = t.reshape(-1, 1).to(a.dtype)
    cosine = (unit_a * unit_b).sum(-1, keepdim=True).clamp(-1, 1)
    angle = torch.acos(cosine)
    sine = torch.sin(angle)
    parallel = sine.abs() < 1e-6
    weight_a = torch.where(parallel, 1 - t, torch.sin((1 - t) * angle) / sine.where(~parallel, 1))
    weight_b = torch.where(parallel, t, torch.sin(t * angle) / sine.where(~parallel, 1))
    direction = weight_a * unit_a + weight_b * unit_b
    direction = direction / direction.norm(dim=-1, keepdim=True)
    return direction * ((1 - t) * norm_a + t * norm_b)
