"""Secure aggregation on its own: pairwise masks cancel in the sum over every site, and any one
site's masked vector is not its values."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federate.federation import wire


def test_pairwise_masks_cancel_in_the_sum_and_hide_each_site() -> None:
    keys = {site: X25519PrivateKey.generate() for site in ("denmark", "italy", "spain")}
    peers = {site: wire.dh_public(key) for site, key in keys.items()}
    values = {"denmark": [3, 2.5, -1e-7], "italy": [11, -4.25, 2e-7], "spain": [0, 1e6, 0.0]}
    masked = {
        site: wire.mask(values[site], site=site, peers=peers, mine=keys[site], task="t")
        for site in keys
    }
    total = wire.unmask_sum(list(masked.values()))
    expected = [sum(v[i] for v in values.values()) for i in range(3)]
    assert all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in zip(total, expected, strict=True))
    for site, vector in masked.items():
        assert [int(v) for v in vector] != wire.encode(values[site])
        assert all(abs(d) > 1e6 for d in wire.decode([int(v) for v in vector]))
    alone = wire.mask(values["italy"], site="italy", peers=peers, mine=keys["italy"], task="u")
    assert alone != masked["italy"]  # another task, other masks
