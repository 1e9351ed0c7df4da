import pylibmc, quickmc
for lib in (pylibmc, quickmc):
    c = lib.Client(["127.0.0.1:22140"], binary=True)
    out=[]
    for call in ["incr('n', -1)", "decr('n', -1)", "incr('n', 2**32+1)", "incr('n', 2**64)", "incr('n', 2**63)","incr('n', 1.5)", "incr_multi(['n'], delta=-1)", "incr_multi(['n'], delta=2**32+1)", "incr_multi(['n'], delta=2**64)", "incr('n', 0)", "incr_multi(['n'], delta=0)", "incr('n', True)"]:
        c.set("n", 10)
        try: r = eval("c."+call); out.append(f"{call} -> {r!r} n={c.get('n')}")
        except Exception as e: out.append(f"{call} -> {type(e).__name__}: {e}")
    print(lib.__name__); print("\n".join("  "+o for o in out))
