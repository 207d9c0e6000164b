#!/usr/bin/python3
"""Writes the seed corpus of fuzz/corpus/gguf/: a few tiny GGUF headers
(valid, a few hundred bytes each, with no weights after them) and llama-server
buffer lines. Run once; the seeds are kept in the repository.
Usage: /usr/bin/python3 fuzz/make_gguf_seeds.py"""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus", "gguf")


def s(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def kv_u32(key, value):
    return s(key) + struct.pack("<II", 4, value)


def kv_str(key, value):
    return s(key) + struct.pack("<I", 8) + s(value)


def kv_tokens(key, count):
    return s(key) + struct.pack("<IIQ", 9, 8, count) + b"".join(s("t%d" % i) for i in range(count))


def kv_ints(key, values):
    return s(key) + struct.pack("<IIQ", 9, 5, len(values)) + struct.pack("<%di" % len(values), *values)


def tensor(name, dims, ggml_type, offset):
    return (s(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims)
            + struct.pack("<IQ", ggml_type, offset))


# ggml type: (elements per block, bytes per block)
blocks = {0: (1, 4), 1: (1, 2), 8: (32, 34), 12: (256, 144), 30: (1, 2)}


def model(version, arch, layers, embd, heads, heads_kv, vocab, wtype, tied, extra=()):
    kvs = [kv_str("general.architecture", arch), kv_u32(arch + ".block_count", layers),
           kv_u32(arch + ".embedding_length", embd), kv_u32(arch + ".context_length", 256),
           kv_u32(arch + ".attention.head_count", heads), kv_tokens("tokenizer.ggml.tokens", vocab)]
    if isinstance(heads_kv, list):
        kvs.append(kv_ints(arch + ".attention.head_count_kv", heads_kv))
    else:
        kvs.append(kv_u32(arch + ".attention.head_count_kv", heads_kv))
    kvs += list(extra)
    tensors = [("token_embd.weight", [embd, vocab], wtype), ("output_norm.weight", [embd], 0)]
    if not tied:
        tensors.append(("output.weight", [embd, vocab], wtype))
    for layer in range(layers):
        tensors.append(("blk.%d.attn_norm.weight" % layer, [embd], 0))
        tensors.append(("blk.%d.attn_q.weight" % layer, [embd, embd], wtype))
    body, offset = b"", 0
    for name, dims, ggml_type in tensors:
        body += tensor(name, dims, ggml_type, offset)
        elements = 1
        for dim in dims:
            elements *= dim
        per, size = blocks[ggml_type]
        offset += (elements // per * size + 31) // 32 * 32
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    return head + b"".join(kvs) + body


def write(name, data):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


write("llama_f32", model(3, "llama", 2, 32, 4, 4, 8, 0, False))
write("llama_q8_0_tied", model(3, "llama", 1, 64, 8, 2, 4, 8, True))
write("v2_f16_gqa", model(2, "qwen2", 2, 32, 4, 2, 4, 1, False,
                          [kv_u32("general.alignment", 32), kv_u32("qwen2.attention.key_length", 16)]))
write("per_layer_kv_q4_K", model(3, "jamba", 2, 256, 4, [0, 2], 4, 12, False))
write("bf16", model(3, "gemma", 1, 32, 2, 1, 4, 30, True))
write("log_lines", b"load_tensors:   CPU_Mapped model buffer size =     2.53 MiB\n"
      b"llama_kv_cache_init:      CUDA0 KV buffer size =     0.50 MiB\n"
      b"llama_init_from_model:  CUDA_Host  output buffer size =     0.00 MiB\n"
      b"llama_init_from_model:        CPU compute buffer size =    11.01 MiB\n")
