"""The example of pylibmc's documentation (docs/index.rst and pooling.rst),
as a script written for pylibmc. test_readme_example.py runs it unchanged
and again with only the import line changed to `import quickmc as pylibmc`,
and compares what both print. Usage: pylibmc_readme_example.py HOST:PORT"""
import sys

import pylibmc

server = sys.argv[1]

mc = pylibmc.Client([server], binary=True,
                    behaviors={"tcp_nodelay": True,
                               "ketama": True})
mc.flush_all()

# Basic memcached operations can be accomplished with the mapping interface
mc["some_key"] = "Some value"
print(repr(mc["some_key"]))
del mc["some_key"]
print("some_key" in mc)

# "Classic" style memcached operations
print(mc.set("some_key", "Some value"))
value = mc.get("some_key")
print(repr(value))
print(mc.set("another_key", 3))
print(mc.delete("another_key"))

# Automatic pickling of complex Python types
print(mc.set("complex_plane=awesome", 4+3j))
print(mc.get("complex_plane=awesome"))
import fractions
print(mc.set("structured", {"a": ("b", "c"),
                            "a2": fractions.Fraction(1, 3)}))
print(mc.get("structured"))

# Atomic memcached-side increments and decrements
print(mc.set("key", "1"))  # str or int is fine
print(mc.incr("key"))
print(mc.decr("key"))

# Batch operations
print(mc.get_multi(["key", "another_key"]))
print(mc.set_multi({"cats": ["on acid", "furry"], "dogs": True}))
print(sorted(mc.get_multi(["cats", "dogs"]).items()))
print(mc.delete_multi(["cats", "dogs", "nonextant"]))

# gets / cas
mc.behaviors = {"cas": True}
print(mc.set("counter", 10))
count, cas_id = mc.gets("counter")
print(count, type(cas_id).__name__)
print(mc.cas("counter", count + 1, cas_id))
print(mc.cas("counter", count + 2, cas_id))
print(mc.get("counter"))

# Pooling
pool = pylibmc.ClientPool()
pool.fill(mc, 4)
with pool.reserve() as pooled:
    print(pooled.set("hi", "ho"))
    print(pooled.get("hi"))
    print(pooled.delete("hi"))

mapped = pylibmc.ThreadMappedPool(mc)
with mapped.reserve() as pooled:
    print(pooled.set("hi", "ho"))
    print(pooled.delete("hi"))
mapped.relinquish()

try:
    mc.incr("missing")
except pylibmc.NotFound as e:
    print("NotFound raised")
print(sorted(mc.behaviors.items())[:5])
