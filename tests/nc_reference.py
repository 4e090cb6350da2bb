"""An independent NumPy implementation of the official architectures, written from DESIGN.md §1-§2.

It works on the raw official-format arrays (a dict key -> array) and shares no code with the package.
Also writes random official-format snapshots, key by key from the spec.
"""
import numpy as np

EPS = 2e-5


def conv2d(x, w, b, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, o, h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + out.shape[2], j:j + out.shape[3]]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.float64))
    return out + b[None, :, None, None]


def up(x):
    return x.repeat(2, axis=2).repeat(2, axis=3)


def relu(x):
    return np.maximum(x, 0)


def avgpool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def scbn(a, prefix, x, m):
    """m: (N, K, H, W) class-weight map."""
    xhat = (x - a[prefix + "avg_mean"][None, :, None, None]) / np.sqrt(a[prefix + "avg_var"][None, :, None, None] + EPS)
    gamma = np.einsum("nkhw,kc->nchw", m, a[prefix + "gammas/W"].astype(np.float64))
    beta = np.einsum("nkhw,kc->nchw", m, a[prefix + "betas/W"].astype(np.float64))
    return gamma * xhat + beta


def gen_blocks(a):
    return sorted(int(k.split("/")[0][5:]) for k in a if k.startswith("block") and k.endswith("/c1/W"))


def generator(a, z, maps, *, bottom_width=4, zs=None, blends=None):
    """maps: list of (N, K, H, W), one per class layer. Feature blending when zs (S, N, dz) and blends
    (list of (N, S+1, h, w)) are given."""
    blocks = gen_blocks(a)

    def l1(zz):
        h = zz.astype(np.float64) @ a["l1/W"].T.astype(np.float64) + a["l1/b"]
        return h.reshape(zz.shape[0], -1, bottom_width, bottom_width)

    def block(b, x, m1, m2):
        p = f"block{b}/"
        h = relu(scbn(a, p + "b1/", x, m1))
        h = conv2d(up(h), a[p + "c1/W"], a[p + "c1/b"], 1)
        h = relu(scbn(a, p + "b2/", h, m2))
        h = conv2d(h, a[p + "c2/W"], a[p + "c2/b"], 1)
        return h + conv2d(up(x), a[p + "c_sc/W"], a[p + "c_sc/b"], 0)

    if zs is None:
        h = l1(z)
        for i, b in enumerate(blocks):
            h = block(b, h, maps[2 * i], maps[2 * i + 1])
    else:
        streams = [l1(zz) for zz in zs]
        target = np.zeros_like(streams[0])
        s = len(streams)

        def mix(streams, target, m):
            allh = streams + [target]
            return sum(m[:, i][:, None] * allh[i] for i in range(s + 1))

        target = mix(streams, target, blends[0])
        for i, b in enumerate(blocks):
            streams = [block(b, hh, maps[2 * i], maps[2 * i + 1]) for hh in streams]
            target = block(b, target, maps[2 * i], maps[2 * i + 1])
            target = mix(streams, target, blends[i + 1])
        h = target
    t = blocks[-1] + 1
    bn = f"b{t}/"
    h = (h - a[bn + "avg_mean"][None, :, None, None]) / np.sqrt(a[bn + "avg_var"][None, :, None, None] + EPS)
    h = relu(h * a[bn + "gamma"][None, :, None, None] + a[bn + "beta"][None, :, None, None])
    return np.tanh(conv2d(h, a[f"l{t}/W"], a[f"l{t}/b"], 1))


def l2n(v):
    return v / (np.linalg.norm(v) + 1e-12)


def sn_weight(a, prefix):
    w = a[prefix + "W"].astype(np.float64)
    mat = w.reshape(w.shape[0], -1)
    u = a[prefix + "u"].astype(np.float64)
    v = l2n(u @ mat)
    u2 = l2n(v @ mat.T)
    sigma = (u2 @ mat @ v.T).item()
    return w / sigma


def discriminator(a, x, y, *, hidden="out"):
    blocks = sorted(int(k.split("/")[0][5:]) for k in a if k.startswith("block") and k.endswith("/c1/W"))
    h = x.astype(np.float64)
    for i, b in enumerate(blocks):
        p = f"block{b}/"
        down = i < len(blocks) - 1
        if i == 0:
            r = avgpool2(conv2d(relu(conv2d(h, sn_weight(a, p + "c1/"), a[p + "c1/b"], 1)),
                                sn_weight(a, p + "c2/"), a[p + "c2/b"], 1))
            s = conv2d(avgpool2(h), sn_weight(a, p + "c_sc/"), a[p + "c_sc/b"], 0)
        else:
            r = conv2d(relu(conv2d(relu(h), sn_weight(a, p + "c1/"), a[p + "c1/b"], 1)),
                       sn_weight(a, p + "c2/"), a[p + "c2/b"], 1)
            s = conv2d(h, sn_weight(a, p + "c_sc/"), a[p + "c_sc/b"], 0) if p + "c_sc/W" in a else h
            if down:
                r, s = avgpool2(r), avgpool2(s)
        h = r + s
    feat = relu(h)
    f = feat.sum(axis=(2, 3))
    lin = f"l{blocks[-1] + 1}/"
    out = f @ sn_weight(a, lin).T + a[lin + "b"]
    emb = sn_weight(a, "l_y/")
    out = out[:, 0] + (emb[y] * f).sum(axis=1)
    return out, feat.reshape(x.shape[0], -1)


def random_generator_arrays(channels, ch, dim_z, n_classes, *, bottom_width=4, seed=0):
    """Official-format generator arrays, key by key from DESIGN.md §2."""
    rng = np.random.RandomState(seed)
    f = np.float32
    widths = [c * ch for c in channels]
    a = {"l1/W": rng.normal(0, 0.3, (widths[0] * bottom_width ** 2, dim_z)).astype(f),
         "l1/b": rng.normal(0, 0.1, widths[0] * bottom_width ** 2).astype(f)}
    for i in range(len(channels) - 1):
        p = f"block{i + 2}/"
        cin, cout = widths[i], widths[i + 1]
        a[p + "c1/W"] = rng.normal(0, 1.0 / np.sqrt(cin * 9), (cout, cin, 3, 3)).astype(f)
        a[p + "c1/b"] = rng.normal(0, 0.1, cout).astype(f)
        a[p + "c2/W"] = rng.normal(0, 1.0 / np.sqrt(cout * 9), (cout, cout, 3, 3)).astype(f)
        a[p + "c2/b"] = rng.normal(0, 0.1, cout).astype(f)
        a[p + "c_sc/W"] = rng.normal(0, 1.0 / np.sqrt(cin), (cout, cin, 1, 1)).astype(f)
        a[p + "c_sc/b"] = rng.normal(0, 0.1, cout).astype(f)
        for bn, c in (("b1/", cin), ("b2/", cout)):
            a[p + bn + "gammas/W"] = rng.normal(1, 0.3, (n_classes, c)).astype(f)
            a[p + bn + "betas/W"] = rng.normal(0, 0.3, (n_classes, c)).astype(f)
            a[p + bn + "avg_mean"] = rng.normal(0, 0.2, c).astype(f)
            a[p + bn + "avg_var"] = rng.uniform(0.5, 2.0, c).astype(f)
            a[p + bn + "N"] = np.array(10, dtype=np.int64)
    t = len(channels) + 1
    c = widths[-1]
    a[f"b{t}/gamma"] = rng.normal(1, 0.2, c).astype(f)
    a[f"b{t}/beta"] = rng.normal(0, 0.2, c).astype(f)
    a[f"b{t}/avg_mean"] = rng.normal(0, 0.2, c).astype(f)
    a[f"b{t}/avg_var"] = rng.uniform(0.5, 2.0, c).astype(f)
    a[f"b{t}/N"] = np.array(10, dtype=np.int64)
    a[f"l{t}/W"] = rng.normal(0, 1.0 / np.sqrt(c * 9), (3, c, 3, 3)).astype(f)
    a[f"l{t}/b"] = rng.normal(0, 0.1, 3).astype(f)
    return a


def random_discriminator_arrays(channels, ch, n_classes, *, hidden="out", seed=0):
    """Official-format SN discriminator arrays (every conv/linear/embed has W, optional b, u (1, out))."""
    rng = np.random.RandomState(seed)
    f = np.float32
    a = {}

    def sn(prefix, shape, bias=True):
        a[prefix + "W"] = rng.normal(0, 0.2, shape).astype(f)
        if bias:
            a[prefix + "b"] = rng.normal(0, 0.1, shape[0]).astype(f)
        a[prefix + "u"] = rng.normal(0, 1, (1, shape[0])).astype(f)

    widths = [c * ch for c in channels]
    sn("block1/c1/", (widths[0], 3, 3, 3))
    sn("block1/c2/", (widths[0], widths[0], 3, 3))
    sn("block1/c_sc/", (widths[0], 3, 1, 1))
    for i in range(1, len(widths)):
        p = f"block{i + 1}/"
        cin, cout = widths[i - 1], widths[i]
        hid = cout if hidden == "out" else cin
        sn(p + "c1/", (hid, cin, 3, 3))
        sn(p + "c2/", (cout, hid, 3, 3))
        if cin != cout or i < len(widths) - 1:
            sn(p + "c_sc/", (cout, cin, 1, 1))
    sn(f"l{len(widths) + 1}/", (1, widths[-1]))
    sn("l_y/", (n_classes, widths[-1]), bias=False)
    return a
