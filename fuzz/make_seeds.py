#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/ (run once; the seeds are kept in
the repository). Usage: /usr/bin/python3 fuzz/make_seeds.py"""
import json
import os
import msgpack

here = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    path = os.path.join(here, "corpus", target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())


consumer = {"consumer": "fuzz", "accepted_runtime_kinds": ["service"],
            "accepted_management_modes": ["jido_managed", "externally_managed"],
            "accepted_protocols": ["openai_chat_completions"],
            "required_capabilities": {"streaming?": True}, "optional_capabilities": {},
            "constraints": {"startup_kind": "spawned"}, "metadata": {}}


def ensure(backend, options, wait_ms=200, ttl_ms=1000):
    return {"request": {"request_id": "r1", "target_preference": {
                "backend": backend, "startup_kind": None, "backend_options": options,
                "metadata": {"k": "v"}}, "model_preference": {"id": "tiny"}},
            "consumer": consumer, "context": {"run_id": "run", "attempt_id": "a",
                                              "observability": {"trace_id": "t"}},
            "owner_ref": "fuzz", "ttl_ms": ttl_ms, "wait_ms": wait_ms}


requests = {
    "ping": {"v": 1, "id": 1, "op": "ping"},
    "ping_str_id": {"v": 1, "id": "abc", "op": "ping", "args": {}},
    "bad_version": {"v": 2, "id": 3, "op": "ping"},
    "unknown_op": {"v": 1, "id": 4, "op": "explode", "args": {}},
    "list_backends": {"v": 1, "id": 5, "op": "list_backends"},
    "compat": {"v": 1, "id": 6, "op": "compatibility",
               "args": {"backend": "test_attached", "consumer": consumer}},
    "ensure_attached": {"v": 1, "id": 7, "op": "ensure_endpoint",
                        "args": ensure("test_attached", {"root_url": "http://127.0.0.1:1",
                                                         "model_identity": "m"})},
    "ensure_liar": {"v": 1, "id": 8, "op": "ensure_endpoint",
                    "args": ensure("test_liar", {"plan_mode": "externally_managed",
                                                 "surface": "ssh"})},
    "ensure_spawned": {"v": 1, "id": 9, "op": "ensure_endpoint",
                       "args": ensure("test_spawned", {"model_identity": "tiny"})},
    "ensure_unknown": {"v": 1, "id": 10, "op": "ensure_endpoint",
                       "args": ensure("nope", {})},
    "renew": {"v": 1, "id": 11, "op": "renew_lease", "args": {"lease_ref": "x", "ttl_ms": 5}},
    "release": {"v": 1, "id": 12, "op": "release_lease", "args": {"lease_ref": "x"}},
    "instances": {"v": 1, "id": 13, "op": "list_instances", "args": {"backend": "test_spawned"}},
    "lookup": {"v": 1, "id": 14, "op": "lookup_instance", "args": {"instance_id": "a:b"}},
    "leases": {"v": 1, "id": 15, "op": "list_leases", "args": {"instance_id": "a"}},
    "stop": {"v": 1, "id": 16, "op": "stop_instance", "args": {"instance_id": "a"}},
    "stats": {"v": 1, "id": 17, "op": "stats"},
    "args_not_map": {"v": 1, "id": 18, "op": "ping", "args": [1, 2]},
}
for name, body in requests.items():
    data = msgpack.packb(body, use_bin_type=True)
    write("gateway", name, data)
    write("val", name, data)
write("gateway", "not_a_map", msgpack.packb([1, 2, 3]))
write("gateway", "trailing", msgpack.packb({"v": 1, "id": 1, "op": "ping"}) + b"\x00")
write("val", "deep", b"\x91" * 20 + b"\xc0")
write("val", "plan", msgpack.packb({
    "plan": {"instance_key": "k", "backend": "b", "startup_kind": "spawned",
             "management_mode": "jido_managed",
             "transport": {"argv": ["/bin/true"], "env": {"A": "1"}, "cwd": None,
                           "ready_pattern": "ready", "execution_surface": "local_subprocess",
                           "stop_signal": 15},
             "ready_timeout_ms": 100, "endpoint_template": {"base_url": "http://x"}},
    "backend": "b", "management_modes": ["jido_managed"], "startup_kind": "spawned",
    "capabilities": {"streaming?": True}, "supported_surfaces": ["local_subprocess"],
    "fields": {"base_url": "http://127.0.0.1:9/v1"}, "prefix": "p",
    "consumer": consumer, "request": ensure("b", {})["request"],
    "code": "capacity", "message": "m", "details": {"limit": 4}}, use_bin_type=True))
write("val", "scalars", msgpack.packb([None, True, -1, 2 ** 63 - 1, 1.5, "s", b"bin",
                                       {"f": 0.25}], use_bin_type=True))
write("val", "float32", b"\xca\x3f\x80\x00\x00")

configs = {
    "daemon": """shicd
    gateway = tcp://127.0.0.1:5590
    events = tcp://127.0.0.1:5591
    client_timeout_ms = 30000
    max_leases = 64
backends
    standin
        type = command
        command = /bin/true -m ${MODEL} --port ${PORT}
        ready_pattern = listening
        models
            tiny = tiny
        idle_shutdown_ms = 60000
""",
    "runtime": """runtime
    max_instances = 8
    lease_spare = 2
    restart_backoff_ms = 100
    max_restarts = 3
    liveness_failures = 2
    max_frame = 4096
""",
    "builtins": """backends
    ollama
        root_url = http://127.0.0.1:11434
    openai_compat
        root_url = http://127.0.0.1:8000/v1
        models
            m = m
    llama_cpp
        binary = /usr/bin/llama-server
        models
            tiny = /tmp/tiny.gguf
""",
    "typed": """backends
    vllm
        type = openai_compat
        root_url = http://127.0.0.1:8000/v1
    other
        type = ollama
    third
        type = llama_cpp
        binary = /bin/true
""",
    "bad_number": "shicd\n    client_timeout_ms = soon\n",
    "bad_section": "elsewhere\n    x = 1\n",
    "bad_type": "backends\n    x\n        type = nothing\n",
}
for name, text in configs.items():
    write("config", name, text)

#  HTTP bodies as the backends read them: what Ollama and OpenAI-compatible
#  servers answer, and what a proxy, a cut connection or a broken server does
tags = {"models": [{"name": "qwen2.5:0.5b", "model": "qwen2.5:0.5b",
                    "modified_at": "2025-01-10T09:12:41.123456789+01:00", "size": 397821319,
                    "digest": "a8b0c51577010a279d933d14c2a8ab4b268079d44c5c8830c0a93900f1827c67",
                    "details": {"parent_model": "", "format": "gguf", "family": "qwen2",
                                "families": ["qwen2"], "parameter_size": "494.03M",
                                "quantization_level": "Q4_K_M"}}]}
bodies = {
    "ollama_tags": json.dumps(tags),
    "ollama_tags_empty": '{"models":[]}',
    "ollama_ps": json.dumps({"models": [dict(tags["models"][0], expires_at="2025-01-10T09:17:41Z",
                                             size_vram=397821319, context_length=4096)]}),
    "ollama_version": '{"version":"0.5.7"}\n',
    "ollama_pull": '{"status":"pulling manifest"}\n{"status":"pulling a8b0c5157701",'
                   '"digest":"sha256:a8b0","total":397807936,"completed":1048576}\n{"status":"success"}\n',
    "ollama_error": '{"error":"model \\"nope\\" not found, try pulling it first"}',
    "openai_models": json.dumps({"object": "list", "data": [
        {"id": "Qwen/Qwen2.5-0.5B-Instruct", "object": "model", "created": 1736500000,
         "owned_by": "vllm", "root": "Qwen/Qwen2.5-0.5B-Instruct", "parent": None,
         "max_model_len": 32768, "permission": [{"allow_sampling": True, "is_blocking": False}]}]},
        indent=2),
    "llama_server_models": json.dumps({"object": "list", "models": [{"name": "tiny", "model": "tiny"}],
                                       "data": [{"id": "tiny.gguf", "object": "model",
                                                 "meta": {"n_params": 494032768, "n_ctx_train": 32768,
                                                          "rope_freq": 1e6, "ratio": 0.1}}]}),
    "escapes": '["\\u00e9\\ud83d\\ude00","\\u0000\\u001f\\u007f","\\/\\b\\f\\n\\r\\t\\"\\\\",-0,1E-400]',
    "html_502": "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    "truncated": json.dumps(tags)[:150],
    "deep": "[" * 17 + "]" * 17,
    "huge_int": '{"size":18446744073709551615}',
    "duplicate": '{"models":[],"models":[]}',
    "bad_utf8": b'{"name":"\xc3\x28\xed\xa0\x80"}',
    "nul_key": '{"a\\u0000":1}',
}
for name, body in bodies.items():
    write("json", name, body)

#  What an etcd member answers (fuzz_etcd): two bytes of settings (the
#  size of the pieces the stream is fed in, 0 for one piece; the HTTP
#  status: 0 is 200, 3 is 400, 4 is 404), then the body, as etcd 3.4.23
#  sent it
header = '"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709",' \
         '"revision":"9","raft_term":"2"}'
stream = "".join(line + "\n" for line in [
    '{"result":{%s,"created":true}}' % header,
    '{"result":{%s,"events":[{"kv":{"key":"cDE=","create_revision":"5","mod_revision":"5",'
    '"version":"1","value":"eA==","lease":"4111120343148670225"}}]}}' % header,
    '{"result":{%s,"events":[{"type":"DELETE","kv":{"key":"cDE=","mod_revision":"7"}},'
    '{"type":"DELETE","kv":{"key":"cDI=","mod_revision":"7"}}]}}' % header,
    '{"result":{%s}}' % header,
])
replies = {
    "range": (0, 0, '{%s,"kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"2",'
                    '"version":"1","value":"Yg=="}],"count":"1"}' % header),
    "create_lost": (0, 0, '{%s,"responses":[{"response_range":{"header":{"revision":"2"},'
                          '"kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"2",'
                          '"version":"1","value":"Yg==","lease":"4111120343148670214"}],'
                          '"count":"1"}}]}' % header),
    "grant": (0, 0, '{%s,"ID":"4111120343148670214","TTL":"2"}' % header),
    "keepalive_gone": (0, 0, '{"result":{%s,"ID":"12345"}}' % header),
    "lease_not_found": (0, 4, '{"error":"etcdserver: requested lease not found",'
                              '"message":"etcdserver: requested lease not found","code":5}'),
    "compacted": (0, 3, '{"error":"etcdserver: mvcc: required revision has been compacted",'
                        '"message":"etcdserver: mvcc: required revision has been compacted","code":11}'),
    "watch": (0, 0, stream),
    "watch_cut": (7, 0, stream),
    "watch_compacted": (3, 0, '{"result":{%s,"created":true}}\n{"result":{"header":{"raft_term":"2"},'
                              '"canceled":true,"compact_revision":"8"}}\n' % header),
    "watch_closing": (1, 0, '{"result":{%s,"created":true}}\n{"error":{"grpc_code":14,"http_code":503,'
                            '"message":"transport is closing","http_status":"Service Unavailable"}}'
                      % header),
    "html": (0, 4, "<html><body><h1>404 Not Found</h1></body></html>"),
    "base64": (0, 0, "Zm9vYmFy"),
}
for name, (cut, status, body) in replies.items():
    write("etcd", name, bytes([cut, status]) + body.encode())
