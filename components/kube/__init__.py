"""What every Kubernetes layer (platform, data, observability, cells, inference, automation) builds
with, so each copies one pattern instead of another layer's internals:

- `charts`: a pinned chart through `helm.v4.Chart`, with typed values and webhook readiness;
- `values`: the values models' base, pinned images, hardening blocks, the chart context;
- `custom`: custom resources as typed specs rendered once to the object the API server receives;
- `netpol`: default-deny NetworkPolicies and the allows every namespace needs;
- `authz`: Istio AuthorizationPolicies, deny by default and allow by workload identity;
- `webhooks`: waiting for a webhook's injected CA, and applying that wait offline in the gate.

Which control-plane ports a chart's webhooks need is declared with its pin (`stacks.charts`).
"""
