#!/usr/bin/env python3
"""Generates src/rv64f-arith.inc and src/rv64d-arith.inc: the rounding arithmetic
cases (fadd/fsub/fmul/fdiv/fsqrt/fmadd/fmsub/fnmsub/fnmadd) of rv64f.S and rv64d.S:
directed cases from 1000, and from 2000 pseudo-random ones (fixed seed) biased towards
edge cases -- subnormals, overflow, cancellation, ties -- including conversions.
Expected results and fflags come from fpref.py (exact rational arithmetic), not
from any implementation.  Run: python3 test/isa/gen/fp-arith.py"""
import os, random, sys
sys.path.insert(0, os.path.dirname(__file__))
from fpref import *

RMS = ['rne', 'rtz', 'rdn', 'rup', 'rmm']

def consts(fmt):
    e, m, bias = params(fmt)
    c = {}
    c['one'] = F(1, fmt); c['two'] = F(2, fmt); c['three'] = F(3, fmt)
    c['ulp1'] = F(Fr(2)**-m, fmt)            # ulp of 1.0
    c['half_ulp'] = F(Fr(2)**-(m+1), fmt)     # half ulp of 1.0
    c['qtr_ulp'] = F(Fr(2)**-(m+2), fmt)
    c['one_p_ulp'] = c['one'] + 1
    c['max'] = inf(0, fmt) - 1
    c['minn'] = 1 << m                         # smallest normal
    c['mins'] = 1                              # smallest subnormal
    c['maxs'] = (1 << m) - 1                   # largest subnormal
    c['inf'] = inf(0, fmt); c['ninf'] = inf(1, fmt)
    c['qnan'] = cnan(fmt); c['snan'] = inf(0, fmt) | 1
    c['nqnan'] = neg(cnan(fmt), fmt) | 5       # negative quiet NaN with payload
    c['z'] = 0; c['nz'] = neg(0, fmt)
    return c

def N(x, fmt):
    return neg(x, fmt)

def gen(fmt, suf, start):
    c = consts(fmt)
    e, m, bias = params(fmt)
    out = []
    n = [start]
    def emit(op, rm, args, res, comment):
        bits, fl = res
        macro = {2: 'FOP2', 1: 'FOP1', 3: 'FOP3'}[len(args)] + suf
        if rm.startswith('dyn'):
            macro += '_DYN'; rmv = rm[3:]
        else:
            rmv = rm
        a = ', '.join(hex(x) for x in args)
        out.append(f'    {macro}({n[0]}, {op}.{suf.lower()}, {rmv}, {hex(bits)}, {fl:#04x}, {a})  /* {comment} */')
        n[0] += 1
    def allrm(op, fn, args, comment, dyn=True):
        for i, rm in enumerate(RMS):
            emit(op, rm, args, fn(*args, fmt, i), f'{comment}, {rm}')
        if dyn:
            for i, rm in enumerate(RMS):
                emit(op, f'dyn{i}', args, fn(*args, fmt, i), f'{comment}, dynamic frm={rm}')
    one, ulp = c['one'], c['ulp1']
    # ---- fadd
    allrm('fadd', fadd, (one, c['half_ulp']), '1 + ulp/2 (tie)')
    allrm('fadd', fadd, (N(one, fmt), N(c['half_ulp'], fmt)), '-1 - ulp/2 (tie)')
    allrm('fadd', fadd, (c['one_p_ulp'], c['half_ulp']), '(1+ulp) + ulp/2 (tie to even goes up)', dyn=False)
    allrm('fadd', fadd, (one, c['qtr_ulp']), '1 + ulp/4', dyn=False)
    allrm('fadd', fadd, (N(one, fmt), one), '-1 + 1 = +0 (-0 in rdn)', dyn=False)
    allrm('fadd', fadd, (c['max'], c['max']), 'max + max overflows', dyn=False)
    allrm('fadd', fadd, (N(c['max'], fmt), N(c['max'], fmt)), '-max - max overflows', dyn=False)
    for args, cm in [((one, c['two']), '1 + 2'),
                     ((c['nz'], c['nz']), '-0 + -0 = -0'),
                     ((c['z'], c['nz']), '+0 + -0 = +0'),
                     ((c['mins'], c['maxs']), 'subnormal + subnormal = min normal (exact)'),
                     ((c['maxs'], c['maxs']), 'subnormal + subnormal'),
                     ((c['inf'], c['ninf']), 'inf - inf invalid'),
                     ((c['inf'], N(c['max'], fmt)), 'inf + -max'),
                     ((c['qnan'], one), 'qNaN + 1: canonical NaN, no flags'),
                     ((c['nqnan'], one), '-qNaN(payload) + 1: canonical NaN'),
                     ((one, c['snan']), '1 + sNaN invalid'),
                     ((c['inf'], c['qnan']), 'inf + qNaN')]:
        emit('fadd', 'rne', args, fadd(*args, fmt, RNE), cm)
    emit('fadd', 'rdn', (c['z'], c['nz']), fadd(c['z'], c['nz'], fmt, RDN), '+0 + -0 = -0 in rdn')
    # ---- fsub
    for args, cm in [((c['three'], F(5, fmt)), '3 - 5'),
                     ((one, one), '1 - 1 = +0'),
                     ((c['inf'], c['inf']), 'inf - inf invalid'),
                     ((c['ninf'], c['inf']), '-inf - inf'),
                     ((c['minn'], c['mins']), 'min normal - min subnormal (exact subnormal)'),
                     ((c['nz'], c['z']), '-0 - +0 = -0'),
                     ((c['snan'], c['snan']), 'sNaN - sNaN')]:
        emit('fsub', 'rne', args, fsub(*args, fmt, RNE), cm)
    emit('fsub', 'rdn', (one, one), fsub(one, one, fmt, RDN), '1 - 1 = -0 in rdn')
    allrm('fsub', fsub, (one, c['qtr_ulp']), '1 - ulp/4', dyn=False)
    # ---- fmul
    for args, cm in [((c['two'], c['three']), '2 * 3'),
                     ((N(c['two'], fmt), c['three']), '-2 * 3'),
                     ((c['nz'], F(5, fmt)), '-0 * 5 = -0'),
                     ((c['z'], c['inf']), '0 * inf invalid'),
                     ((c['ninf'], N(c['two'], fmt)), '-inf * -2'),
                     ((c['minn'], F(Fr(1, 2), fmt)), 'min normal / 2: exact subnormal, no flags'),
                     ((c['maxs'], F(2, fmt)), 'max subnormal * 2 exact'),
                     ((c['qnan'], c['z']), 'qNaN * 0'),
                     ((c['snan'], one), 'sNaN * 1 invalid')]:
        emit('fmul', 'rne', args, fmul(*args, fmt, RNE), cm)
    allrm('fmul', fmul, (c['max'], c['two']), 'max * 2 overflows', dyn=False)
    allrm('fmul', fmul, (c['mins'], F(Fr(1, 2), fmt)), 'min subnormal / 2 underflows', dyn=False)
    allrm('fmul', fmul, (N(c['mins'], fmt), F(Fr(3, 4), fmt)), '-min subnormal * 3/4', dyn=False)
    allrm('fmul', fmul, (c['one_p_ulp'], c['one_p_ulp']), '(1+ulp)^2 = 1 + 2ulp + ulp^2')
    # tininess is detected after rounding (RISC-V F 11.2): product = 2^emin * (1 - 2^-(p+1))
    if fmt == S:
        a, b = F(Fr(18631) * Fr(2)**-75, fmt), F(Fr(1801) * Fr(2)**-76, fmt)
    else:
        # 2^54-1 = 3^4 * 7 * 19 * 73 * 87211 * 262657, split into two exact doubles
        a, b = F(Fr(3**4 * 7 * 19 * 73) * Fr(2)**-540, fmt), F(Fr(87211 * 262657) * Fr(2)**-536, fmt)
    assert fval(a, fmt) * fval(b, fmt) == Fr(2)**(1-bias) * (1 - Fr(2)**-(m+2)), 'tiny product'
    allrm('fmul', fmul, (a, b), 'product just below min normal: tininess after rounding', dyn=False)
    # ---- fdiv
    allrm('fdiv', fdiv, (one, c['three']), '1 / 3')
    allrm('fdiv', fdiv, (N(c['two'], fmt), c['three']), '-2 / 3', dyn=False)
    for args, cm in [((F(6, fmt), c['two']), '6 / 2'),
                     ((one, c['z']), '1 / +0 divide by zero'),
                     ((one, c['nz']), '1 / -0 divide by zero'),
                     ((N(c['three'], fmt), c['z']), '-3 / +0 divide by zero'),
                     ((c['z'], c['z']), '0 / 0 invalid'),
                     ((c['inf'], c['ninf']), 'inf / -inf invalid'),
                     ((c['inf'], c['z']), 'inf / 0 = inf, no flags'),
                     ((one, c['ninf']), '1 / -inf = -0'),
                     ((c['qnan'], c['z']), 'qNaN / 0: no DZ'),
                     ((c['minn'], c['max']), 'min normal / max underflows')]:
        emit('fdiv', 'rne', args, fdiv(*args, fmt, RNE), cm)
    # ---- fsqrt
    allrm('fsqrt', fsqrt, (c['two'],), 'sqrt(2)')
    for args, cm in [((F(4, fmt),), 'sqrt(4)'),
                     ((F(Fr(9, 16), fmt),), 'sqrt(9/16)'),
                     ((N(one, fmt),), 'sqrt(-1) invalid'),
                     ((c['nz'],), 'sqrt(-0) = -0'),
                     ((c['z'],), 'sqrt(+0)'),
                     ((c['inf'],), 'sqrt(inf)'),
                     ((c['ninf'],), 'sqrt(-inf) invalid'),
                     ((N(c['mins'], fmt),), 'sqrt(-min subnormal) invalid'),
                     ((c['mins'],), 'sqrt(min subnormal)'),
                     ((c['snan'],), 'sqrt(sNaN) invalid'),
                     ((c['qnan'],), 'sqrt(qNaN)')]:
        emit('fsqrt', 'rne', args, fsqrt(*args, fmt, RNE), cm)
    # ---- fused multiply-add: one rounding
    fmadd = lambda a, b, cc, f, rm: fma(a, b, cc, f, rm)
    fmsub = lambda a, b, cc, f, rm: fma(a, b, cc, f, rm, negc=True)
    fnmsub = lambda a, b, cc, f, rm: fma(a, b, cc, f, rm, negprod=True)
    fnmadd = lambda a, b, cc, f, rm: fma(a, b, cc, f, rm, negprod=True, negc=True)
    h = F(1 + Fr(2)**-((m+2)//2), fmt)   # (1+2^-k)^2 = 1 + 2^(1-k) + 2^-2k needs more than p bits
    for name, fn in [('fmadd', fmadd), ('fmsub', fmsub), ('fnmsub', fnmsub), ('fnmadd', fnmadd)]:
        emit(name, 'rne', (c['two'], c['three'], one), fn(c['two'], c['three'], one, fmt, RNE), '2*3 and 1')
        emit(name, 'rne', (h, h, N(one, fmt)), fn(h, h, N(one, fmt), fmt, RNE), 'single rounding: (1+2^-k)^2 and -1')
        emit(name, 'rne', (h, h, one), fn(h, h, one, fmt, RNE), 'single rounding: (1+2^-k)^2 and 1')
        emit(name, 'rne', (one, one, N(one, fmt)), fn(one, one, N(one, fmt), fmt, RNE), 'exact zero sum: sign rules')
        emit(name, 'rdn', (one, one, N(one, fmt)), fn(one, one, N(one, fmt), fmt, RDN), 'exact zero sum in rdn')
        emit(name, 'rne', (c['z'], c['inf'], c['qnan']), fn(c['z'], c['inf'], c['qnan'], fmt, RNE), '0*inf with quiet NaN addend: still invalid')
        emit(name, 'rne', (c['inf'], one, c['ninf']), fn(c['inf'], one, c['ninf'], fmt, RNE), 'inf*1 and -inf')
        emit(name, 'rne', (c['qnan'], one, one), fn(c['qnan'], one, one, fmt, RNE), 'qNaN multiplicand')
        emit(name, 'rne', (one, one, c['snan']), fn(one, one, c['snan'], fmt, RNE), 'sNaN addend')
        emit(name, 'rne', (c['max'], c['two'], N(c['max'], fmt)), fn(c['max'], c['two'], N(c['max'], fmt), fmt, RNE), 'max*2 and -max: no intermediate overflow')
        emit(name, 'rne', (c['z'], c['nz'], c['z']), fn(c['z'], c['nz'], c['z'], fmt, RNE), '0*-0 and +0')
    allrm('fmadd', fmadd, (one, one, c['half_ulp']), '1*1 + ulp/2 (tie)')
    allrm('fnmadd', fnmadd, (one, one, c['half_ulp']), '-(1*1) - ulp/2 (tie)', dyn=False)
    return out, n[0]

def rand_val(rng, fmt, kind=None):
    """an operand biased towards the interesting parts of the format"""
    e, m, bias = params(fmt)
    emax_field = (1 << e) - 2
    kind = kind or rng.choices(['norm', 'near1', 'sub', 'tiny', 'huge', 'few', 'special'],
                               [4, 4, 2, 2, 2, 3, 1])[0]
    sgn = rng.getrandbits(1) << (e + m)
    mant = rng.getrandbits(m)
    if kind == 'norm': E = rng.randint(1, emax_field)
    elif kind == 'near1': E = bias + rng.randint(-3, 3)
    elif kind == 'sub': return sgn | (rng.getrandbits(m) or 1)
    elif kind == 'tiny': E = rng.randint(1, 4)
    elif kind == 'huge': E = rng.randint(emax_field - 3, emax_field)
    elif kind == 'few':
        E = bias + rng.randint(-6, 6)
        mant = (rng.getrandbits(4) << (m - 4)) | (rng.choice([0, 1]) if rng.random() < 0.5 else 0)
    else:
        return rng.choice([0, neg(0, fmt), inf(0, fmt), inf(1, fmt), cnan(fmt), inf(0, fmt) | 1])
    return sgn | (E << m) | mant

def near(rng, fmt, a):
    """an operand with an exponent close to a's (cancellation, alignment shifts)"""
    e, m, bias = params(fmt)
    E = (a >> m) & ((1 << e) - 1)
    if E == 0 or E == (1 << e) - 1: return rand_val(rng, fmt)
    E2 = min(max(E + rng.randint(-(m + 3), 2), 1), (1 << e) - 2)
    return (rng.getrandbits(1) << (e + m)) | (E2 << m) | rng.getrandbits(m)

def gen_random(fmt, suf, start, seed):
    rng = random.Random(seed)
    e, m, bias = params(fmt)
    out = []
    n = [start]
    def rm_pick():
        i = rng.randrange(5)
        return i, (RMS[i] if rng.random() < 0.75 else f'dyn{i}')
    def emit(macro, op, rm, res, args, comment):
        bits, fl = res
        dyn = rm.startswith('dyn')
        rmv = rm[3:] if dyn else rm
        a = ', '.join(hex(x) for x in args)
        out.append(f'    {macro}{"_DYN" if dyn else ""}({n[0]}, {op}, {rmv}, {hex(bits)}, {fl:#04x}, {a})  /* {comment} */')
        n[0] += 1
    low = suf.lower()
    for name, fn, count in [('fadd', fadd, 40), ('fsub', fsub, 30), ('fmul', fmul, 40), ('fdiv', fdiv, 40)]:
        for _ in range(count):
            i, rm = rm_pick()
            a = rand_val(rng, fmt)
            b = near(rng, fmt, a) if name in ('fadd', 'fsub') and rng.random() < 0.6 else rand_val(rng, fmt)
            emit(f'FOP2{suf}', f'{name}.{low}', rm, fn(a, b, fmt, i), (a, b), 'random')
    for _ in range(30):
        i, rm = rm_pick()
        a = rand_val(rng, fmt)
        if rng.random() < 0.8: a &= ~(1 << (e + m))            # mostly non-negative
        emit(f'FOP1{suf}', f'fsqrt.{low}', rm, fsqrt(a, fmt, i), (a,), 'random')
    for name, np_, nc in [('fmadd', False, False), ('fmsub', False, True), ('fnmsub', True, False), ('fnmadd', True, True)]:
        for _ in range(30):
            i, rm = rm_pick()
            a, b = rand_val(rng, fmt), rand_val(rng, fmt)
            if rng.random() < 0.5:
                # addend close to -(a*b): massive cancellation, the single rounding matters
                pb, _ = fmul(a, b, fmt, rng.randrange(5))
                c = neg(pb, fmt) if not (np_ ^ nc) else pb
                if rng.random() < 0.5 and not isnan(c, fmt) and not isinf(c, fmt): c ^= rng.getrandbits(3)
            else:
                c = rand_val(rng, fmt)
            emit(f'FOP3{suf}', f'{name}.{low}', rm, fma(a, b, c, fmt, i, negprod=np_, negc=nc), (a, b, c), 'random')
    # float -> integer
    for op, bits_, signed in [('w', 32, True), ('wu', 32, False), ('l', 64, True), ('lu', 64, False)]:
        for _ in range(20):
            i, rm = rm_pick()
            # magnitudes around the integer range edges and small values with fractions
            k = rng.choice(['edge', 'small', 'any'])
            if k == 'edge':
                target = Fr(rng.choice([1, -1])) * (Fr(2) ** (bits_ - (1 if signed else 0)) + rng.randint(-3, 3) * Fr(1, 2))
                a, _ = rnd(target, fmt, RNE)
                if rng.random() < 0.5: a = rand_val(rng, fmt, 'few')
            elif k == 'small':
                a, _ = rnd(Fr(rng.randint(-4000, 4000), rng.choice([1, 2, 4, 8, 3])), fmt, RNE)
            else:
                a = rand_val(rng, fmt)
            res = f2i(a, fmt, i, bits_, signed)
            emit(f'FCVT_X{suf}', f'fcvt.{op}.{low}', rm, res, (a,), 'random')
    # integer -> float
    for op, bits_, signed in [('w', 32, True), ('wu', 32, False), ('l', 64, True), ('lu', 64, False)]:
        for _ in range(16):
            i, rm = rm_pick()
            x = rng.getrandbits(64)
            if rng.random() < 0.5: x >>= rng.randint(0, 63)      # all magnitudes
            if rng.random() < 0.3: x = (-x) & ((1 << 64) - 1)
            if suf == 'D' and bits_ == 32:
                # exact: fcvt.d.w/wu take no rounding mode
                bits, fl = i2f(x, fmt, RNE, bits_, signed)
                out.append(f'    FCVT_DX_EXACT({n[0]}, fcvt.{low}.{op}, {hex(bits)}, {fl:#04x}, {hex(x)})  /* random */')
                n[0] += 1
                continue
            emit(f'FCVT_{suf}X', f'fcvt.{low}.{op}', rm, i2f(x, fmt, i, bits_, signed), (x,), 'random')
    if fmt == D:
        for _ in range(30):
            i, rm = rm_pick()
            k = rng.choice(['s-range', 's-sub', 'any', 'huge'])
            if k == 's-range': a = (rng.getrandbits(1) << 63) | ((1023 + rng.randint(-126, 127)) << 52) | rng.getrandbits(52)
            elif k == 's-sub': a = (rng.getrandbits(1) << 63) | ((1023 + rng.randint(-152, -125)) << 52) | rng.getrandbits(52)
            elif k == 'huge': a = (rng.getrandbits(1) << 63) | ((1023 + rng.randint(126, 130)) << 52) | rng.getrandbits(52)
            else: a = rand_val(rng, D)
            bits, fl = f2f(a, D, S, i)
            dyn = rm.startswith('dyn')
            out.append(f'    FCVT_SD{"_DYN" if dyn else ""}({n[0]}, {rm[3:] if dyn else rm}, {hex(bits)}, {fl:#04x}, {hex(a)})  /* random fcvt.s.d */')
            n[0] += 1
        for _ in range(10):
            a = rand_val(rng, S)
            bits, fl = f2f(a, S, D, RNE)
            out.append(f'    FCVT_DS({n[0]}, {hex(bits)}, {fl:#04x}, {hex(a)})  /* random fcvt.d.s */')
            n[0] += 1
    return out, n[0]

here = os.path.dirname(os.path.abspath(__file__))
for fmt, suf, name in [(S, 'S', 'rv64f'), (D, 'D', 'rv64d')]:
    lines, end = gen(fmt, suf, 1000)
    assert end <= 2000
    rlines, end = gen_random(fmt, suf, 2000, seed=0x7359 + len(suf) + (fmt == D))
    lines += rlines
    path = os.path.join(here, '..', 'src', f'{name}-arith.inc')
    with open(path, 'w') as f:
        f.write(f'/* GENERATED by test/isa/gen/fp-arith.py -- do not edit. Cases 1000.., 2000..{end-1}.\n'
                f'   FOPk{suf}(case, op, rm, expected bits, expected fflags, operand bits...) */\n')
        f.write('\n'.join(lines) + '\n')
    print(f'{path}: {len(lines)} cases')
