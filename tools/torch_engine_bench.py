#!/usr/bin/env python3
"""The stacks of `tutor bench engine`, built and timed the same way in PyTorch (CPU, eager).

Used only for measurement, never by tutor itself. Each stack is a DiT body with adaLN-Zero
blocks, a key padding mask (the last eighth of every sequence), and, where named, a rank-16 LoRA
on q, k, v, o, fc1, fc2 whose parameters alone are trained (the base is frozen), exactly as
tutor's Engine/DiTStack.swift builds it. Timings are the median of --repeats runs after one
warm-up, on --threads threads (torch.set_num_threads), in milliseconds.

    python3 tools/torch_engine_bench.py --threads 2
    scripts/bench-engine-compare              # this beside `tutor bench engine`, one table
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


class LoRALinear(torch.nn.Module):
    def __init__(self, inc, outc, rank):
        super().__init__()
        self.base = torch.nn.Linear(inc, outc)
        self.rank = rank
        if rank:
            self.A = torch.nn.Parameter(torch.randn(rank, inc) * 0.01)
            self.B = torch.nn.Parameter(torch.randn(outc, rank) * 0.01)

    def forward(self, x):
        y = self.base(x)
        if self.rank:
            y = y + (x @ self.A.t()) @ self.B.t()  # alpha / r = 1 (alpha 16, rank 16)
        return y


class Block(torch.nn.Module):
    def __init__(self, c, heads, hidden, cc, rank):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (LoRALinear(c, c, rank) for _ in range(4))
        self.fc1, self.fc2 = LoRALinear(c, hidden, rank), LoRALinear(hidden, c, rank)
        self.ada = torch.nn.Linear(cc, 6 * c)

    def forward(self, x, cond, mask):
        b, t, c = x.shape
        s1, c1, g1, s2, c2, g2 = self.ada(F.silu(cond)).unsqueeze(1).chunk(6, dim=-1)
        h = F.layer_norm(x, (c,), eps=1e-6) * (1 + c1) + s1
        hd = c // self.heads
        q, k, v = (m(h).view(b, t, self.heads, hd).transpose(1, 2) for m in (self.q, self.k, self.v))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + g1 * self.o(a.transpose(1, 2).reshape(b, t, c))
        h = F.layer_norm(x, (c,), eps=1e-6) * (1 + c2) + s2
        return x + g2 * self.fc2(F.gelu(self.fc1(h), approximate="tanh"))


class Stack(torch.nn.Module):
    def __init__(self, blocks, c, heads, hidden, cc, rank):
        super().__init__()
        self.blocks = torch.nn.ModuleList(Block(c, heads, hidden, cc, rank) for _ in range(blocks))

    def forward(self, x, cond, mask):
        for blk in self.blocks:
            x = blk(x, cond, mask)
        return x


def measure(blocks, width, heads, hidden, batch, tokens, lora, repeats):
    torch.manual_seed(1)
    rank = 16 if lora else 0
    stack = Stack(blocks, width, heads, hidden, width, rank)
    for p in stack.parameters():  # non-zero adaLN so no block is the identity
        torch.nn.init.normal_(p, std=0.02)
    for name, p in stack.named_parameters():
        p.requires_grad_(not lora or name.endswith(".A") or name.endswith(".B"))
    x = torch.randn(batch, tokens, width, requires_grad=True)
    cond = torch.randn(batch, width)
    valid = torch.arange(tokens) < tokens - tokens // 8
    mask = valid.view(1, 1, 1, tokens).expand(batch, 1, tokens, tokens)
    dy = torch.randn(batch, tokens, width) * 1e-3

    def forward():
        with torch.no_grad():
            stack(x, cond, mask)

    def step():
        stack.zero_grad(set_to_none=False)
        x.grad = None
        y = stack(x, cond, mask)
        y.backward(dy)

    def timed(f):
        f()
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return 1e3 * statistics.median(ts)

    return timed(forward), timed(step)


# (key, blocks, width, heads, hidden, batch, tokens, lora, threads or None for --threads):
# the stacks of `tutor bench engine`, in its order and with its keys.
# `standard` is (blocks, width, heads, hidden, tokens) of the shipped Reasoner, as tutor's bench
# prints it; scripts/bench-engine-compare passes it from there.
def stacks(threads, large_tokens, standard):
    b, w, h, hid, t = standard
    return [
        ("large", 8, 256, 4, 1024, 1, large_tokens, False, None),
        ("reasoner-size-b1-lora", 8, 256, 4, 1024, 1, 96, True, None),
        ("reasoner-size-b32", 8, 256, 4, 1024, 32, 96, False, None),
        ("standard-b1-lora", b, w, h, hid, 1, t, True, None),
        ("standard-b1-lora-1-thread", b, w, h, hid, 1, t, True, 1),
        ("standard-b32", b, w, h, hid, 32, t, False, None),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--tokens", type=int, default=1024, help="tokens of the large stack")
    ap.add_argument("--standard", default="4,128,4,512,128",
                    help="BLOCKS,WIDTH,HEADS,HIDDEN,TOKENS of the shipped Reasoner's stack (tutor bench engine prints them)")
    ap.add_argument("--json", action="store_true", help="one JSON object per stack")
    ap.add_argument("--only-standard", action="store_true",
                    help="only the stacks of the shipped Reasoner (as tutor bench engine --only-standard)")
    args = ap.parse_args()
    standard = tuple(int(v) for v in args.standard.split(","))
    if len(standard) != 5:
        ap.error("--standard takes five numbers: BLOCKS,WIDTH,HEADS,HIDDEN,TOKENS")
    print(f"# PyTorch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"threads {args.threads}, standard stack {args.standard} (blocks, width, heads, hidden, tokens)", flush=True)
    for key, blocks, width, heads, hidden, batch, tokens, lora, th in stacks(args.threads, args.tokens, standard):
        if args.only_standard and not key.startswith("standard"):
            continue
        torch.set_num_threads(th or args.threads)
        fwd, step = measure(blocks, width, heads, hidden, batch, tokens, lora, args.repeats)
        if args.json:
            print(json.dumps({"stack": key, "forward_ms": round(fwd, 3), "step_ms": round(step, 3)}), flush=True)
        else:
            print(f"{key:28s} forward {fwd:9.2f} ms   forward+backward {step:9.2f} ms", flush=True)


if __name__ == "__main__":
    main()
