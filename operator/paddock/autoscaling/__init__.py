"""Autoscaled pools: what a Karpenter NodePool could still launch, as plain data.

Why a package of its own: Karpenter's NodePool is the one outside API Paddock plans against, and
its arithmetic (limits.cpu minus what exists and is launching, cut into the instance types the
NodePool allows) is easy to get subtly wrong. Keeping it pure (standard library only, no kopf, no
kubernetes client) lets it be unit-tested alone and lets the hack/ scripts use the same Graviton
catalogue to give Karpenter's kwok provider its instance types, so the two can never disagree.

- `instance_types`: the Graviton catalogue (families, sizes, vCPU, memory, price per hour).
- `nodepool`: a NodePool and its NodeClaims reduced to facts; which instance types it allows.
- `headroom`: potential capacity, node by node, for one CorePool.
"""
