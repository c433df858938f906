#!/usr/bin/env python3
"""Erlang C by the textbook formula in exact integer arithmetic: an implementation independent
of src/kpi/staffing.rs (which uses the Erlang B recurrence in floating point), for its reference
values. C = X / (Y + X), X = A^N/N! * N/(N-A), Y = sum_{i<N} A^i/i!; SL = 1 - C exp(-(N-A) T/AHT).

usage: scripts/erlang-reference.py A AHT T TARGET MAX_OCCUPANCY   (A an integer number of Erlangs)
prints the required agents, then N, C, SL, ASA for N-1 and N.
"""
import math
import sys
from fractions import Fraction


def erlang_c(n, a):
    # Everything times N!: terms A^i N!/i! are integers.
    # terms[i] = A^i * N!/i!, with N!/i! = prod_{k=i+1..N} k.
    terms = [0] * (n + 1)
    fall = 1
    for i in range(n, -1, -1):
        terms[i] = a**i * fall
        fall *= i if i > 0 else 1
    x = Fraction(terms[n] * n, n - a)
    y = sum(terms[:n])
    return x / (y + x)


def main():
    a, aht, t, target, occ = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    n = max(a + 1, math.ceil(a / occ))
    while True:
        c = float(erlang_c(n, a))
        sl = 1 - c * math.exp(-(n - a) * t / aht)
        if sl >= target:
            break
        n += 1
    print("required", n)
    for m in (n - 1, n):
        if m > a:
            c = float(erlang_c(m, a))
            print(m, repr(c), repr(1 - c * math.exp(-(m - a) * t / aht)), repr(c * aht / (m - a)))


if __name__ == "__main__":
    main()
