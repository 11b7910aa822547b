# Exact IEEE 754 reference (rational arithmetic) for the tshv ISA tests: rounding in
# all five modes with RISC-V flag rules (tininess after rounding, canonical NaN).
# Used by fp-arith.py; not needed to build or run the tests.
from fractions import Fraction as Fr
import math
S=(8,23); D=(11,52)
RNE,RTZ,RDN,RUP,RMM=0,1,2,3,4
NV,DZ,OF,UF,NX=16,8,4,2,1
def params(fmt):
    e,m=fmt; bias=(1<<(e-1))-1; return e,m,bias
def dec(bits,fmt):
    e,m,bias=params(fmt)
    s=bits>>(e+m)&1; E=bits>>m&((1<<e)-1); M=bits&((1<<m)-1)
    if E==(1<<e)-1: return ('nan' if M else ('inf',s))
    if E==0: v=Fr(M,1<<m)*Fr(2)**(1-bias)
    else: v=(1+Fr(M,1<<m))*Fr(2)**(E-bias)
    return -v if s else v, s
def val(bits,fmt):
    r=dec(bits,fmt); return r
def ilog2(a):
    # floor(log2(a)) for a positive Fraction
    E=a.numerator.bit_length()-a.denominator.bit_length()
    while Fr(2)**E>a: E-=1
    while Fr(2)**(E+1)<=a: E+=1
    return E
def rnd(x,fmt,rm,sign_if_zero=0):
    """round exact Fraction x; returns (bits, flags)"""
    e,m,bias=params(fmt); p=m+1; emin=1-bias; emax=bias
    if x==0: return (sign_if_zero<<(e+m)), 0
    s=1 if x<0 else 0; a=abs(x)
    # exponent
    E=ilog2(a)
    while Fr(2)**(E+1)<=a: E+=1
    def round_at(a,q):  # round a to multiple of 2^q
        u=Fr(2)**q; n=a/u; fl=math.floor(n); rem=n-fl
        if rem==0: return fl*u, False
        if rm==RNE: up = rem>Fr(1,2) or (rem==Fr(1,2) and fl%2==1)
        elif rm==RTZ: up=False
        elif rm==RDN: up = (s==1)
        elif rm==RUP: up = (s==0)
        elif rm==RMM: up = rem>=Fr(1,2)
        return (fl+1 if up else fl)*u, True
    flags=0
    # tininess after rounding: round with unbounded exponent
    r_unb,_=round_at(a,E-(p-1))
    tiny = r_unb < Fr(2)**emin
    q=max(E,emin)-(p-1)
    r,inex=round_at(a,q)
    if inex: flags|=NX
    if tiny and inex: flags|=UF
    maxf=(2-Fr(2)**(1-p))*Fr(2)**emax
    if r>maxf:
        flags|=OF|NX
        toinf = rm in (RNE,RMM) or (rm==RUP and s==0) or (rm==RDN and s==1)
        if toinf: return (s<<(e+m))|(((1<<e)-1)<<m), flags
        r=maxf
    return enc(-r if s else r,fmt,s), flags
def enc(v,fmt,s=None):
    e,m,bias=params(fmt)
    if s is None: s=1 if v<0 else 0
    a=abs(v)
    if a==0: return s<<(e+m)
    E=ilog2(a)
    if E<1-bias:
        M=a/Fr(2)**(1-bias)*(1<<m); assert M.denominator==1; return (s<<(e+m))|int(M)
    M=(a/Fr(2)**E-1)*(1<<m); assert M.denominator==1
    return (s<<(e+m))|((E+bias)<<m)|int(M)
def F(x,fmt=S): # python float/str/Fraction -> bits (exact)
    return enc(Fr(x),fmt)
def h(b,fmt=S): return hex(b)

# ---- reference arithmetic (RISC-V semantics: canonical NaN results) ----
def isnan(b,fmt): e,m,_=params(fmt); return (b>>m&((1<<e)-1))==(1<<e)-1 and (b&((1<<m)-1))!=0
def issnan(b,fmt): e,m,_=params(fmt); return isnan(b,fmt) and not (b>>(m-1))&1
def isinf(b,fmt): e,m,_=params(fmt); return (b>>m&((1<<e)-1))==(1<<e)-1 and (b&((1<<m)-1))==0
def sign(b,fmt): e,m,_=params(fmt); return b>>(e+m)&1
def cnan(fmt): e,m,_=params(fmt); return (((1<<e)-1)<<m)|(1<<(m-1))
def inf(s,fmt): e,m,_=params(fmt); return (s<<(e+m))|(((1<<e)-1)<<m)
def fval(b,fmt): return dec(b,fmt)[0]
def nanchk(fmt,*ops):
    if any(isnan(o,fmt) for o in ops):
        return cnan(fmt), (NV if any(issnan(o,fmt) for o in ops) else 0)
    return None
def addsum(fmt,rm,sa,va,sb,vb):
    # exact sum of finite values with zero-sign rules
    r=va+vb
    if r==0:
        if va==0 and vb==0 and sa==sb: return rnd(r,fmt,rm,sa)
        return rnd(r,fmt,rm,1 if rm==RDN else 0)
    return rnd(r,fmt,rm)
def fadd(a,b,fmt,rm):
    n=nanchk(fmt,a,b)
    if n: return n
    if isinf(a,fmt) or isinf(b,fmt):
        if isinf(a,fmt) and isinf(b,fmt) and sign(a,fmt)!=sign(b,fmt): return cnan(fmt),NV
        return (a if isinf(a,fmt) else b),0
    return addsum(fmt,rm,sign(a,fmt),fval(a,fmt),sign(b,fmt),fval(b,fmt))
def neg(b,fmt): e,m,_=params(fmt); return b^(1<<(e+m))
def fsub(a,b,fmt,rm):
    n=nanchk(fmt,a,b)
    if n: return n
    return fadd(a,neg(b,fmt),fmt,rm)
def fmul(a,b,fmt,rm):
    n=nanchk(fmt,a,b)
    if n: return n
    s=sign(a,fmt)^sign(b,fmt)
    if isinf(a,fmt) or isinf(b,fmt):
        if (not isinf(a,fmt) and fval(a,fmt)==0) or (not isinf(b,fmt) and fval(b,fmt)==0): return cnan(fmt),NV
        return inf(s,fmt),0
    return rnd(fval(a,fmt)*fval(b,fmt),fmt,rm,s)
def fdiv(a,b,fmt,rm):
    n=nanchk(fmt,a,b)
    if n: return n
    s=sign(a,fmt)^sign(b,fmt)
    if isinf(a,fmt):
        if isinf(b,fmt): return cnan(fmt),NV
        return inf(s,fmt),0
    if isinf(b,fmt): return rnd(Fr(0),fmt,rm,s)
    va,vb=fval(a,fmt),fval(b,fmt)
    if vb==0:
        if va==0: return cnan(fmt),NV
        return inf(s,fmt),DZ
    return rnd(va/vb,fmt,rm,s)
def fsqrt(a,fmt,rm):
    n=nanchk(fmt,a)
    if n: return n
    s=sign(a,fmt)
    if isinf(a,fmt): return (a,0) if s==0 else (cnan(fmt),NV)
    v=fval(a,fmt)
    if v==0: return a,0
    if v<0: return cnan(fmt),NV
    # exact-or-sticky square root
    K=1200  # finer than any rounding boundary of either format
    N=v*Fr(2)**(2*K); assert N.denominator==1
    r=math.isqrt(N.numerator)
    if r*r==N.numerator: return rnd(Fr(r)/Fr(2)**K,fmt,rm)
    return rnd((Fr(r)+Fr(1,2))/Fr(2)**K,fmt,rm)  # strictly between r and r+1
def fma(a,b,c,fmt,rm,negprod=False,negc=False):
    # RISC-V: 0*inf raises NV even if c is a quiet NaN
    zinf=(isinf(a,fmt) and not isnan(b,fmt) and not isinf(b,fmt) and fval(b,fmt)==0) or \
         (isinf(b,fmt) and not isnan(a,fmt) and not isinf(a,fmt) and fval(a,fmt)==0)
    if isnan(a,fmt) or isnan(b,fmt) or isnan(c,fmt):
        return cnan(fmt), (NV if (zinf or any(issnan(o,fmt) for o in (a,b,c))) else 0)
    if zinf: return cnan(fmt),NV
    sp=sign(a,fmt)^sign(b,fmt)^(1 if negprod else 0)
    if negc: c=neg(c,fmt)
    if isinf(a,fmt) or isinf(b,fmt):
        if isinf(c,fmt) and sign(c,fmt)!=sp: return cnan(fmt),NV
        return inf(sp,fmt),0
    if isinf(c,fmt): return c,0
    vp=fval(a,fmt)*fval(b,fmt)*(-1 if negprod else 1)
    return addsum(fmt,rm,sp,vp,sign(c,fmt),fval(c,fmt))

# ---- conversions ----
def round_int(v, rm):
    """round Fraction v to an integer with rounding mode rm; returns (int, inexact)"""
    fl = v.numerator // v.denominator
    rem = v - fl
    if rem == 0: return fl, False
    s = 1 if v < 0 else 0
    if rm == RNE: up = rem > Fr(1, 2) or (rem == Fr(1, 2) and fl % 2 == 1)
    elif rm == RTZ: up = (s == 1)          # toward zero: floor for positive, ceil for negative
    elif rm == RDN: up = False
    elif rm == RUP: up = True
    elif rm == RMM: up = rem > Fr(1, 2) or (rem == Fr(1, 2) and s == 0)
    return (fl + 1 if up else fl), True
def f2i(b, fmt, rm, bits, signed):
    """fcvt.{w,wu,l,lu}.{s,d}: returns (64-bit register value, flags)"""
    lo, hi = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1))
    def reg(x):
        x &= (1 << bits) - 1
        if bits == 32 and x >> 31: x |= 0xffffffff00000000   # W results are sign-extended
        return x
    if isnan(b, fmt): return reg(hi), NV
    if isinf(b, fmt): return reg(lo if sign(b, fmt) else hi), NV
    r, inex = round_int(fval(b, fmt), rm)
    if r < lo: return reg(lo), NV
    if r > hi: return reg(hi), NV
    return reg(r), (NX if inex else 0)
def i2f(x, fmt, rm, bits, signed):
    x &= (1 << bits) - 1
    if signed and x >> (bits - 1): x -= 1 << bits
    return rnd(Fr(x), fmt, rm)
def f2f(b, src, dst, rm):
    if isnan(b, src): return cnan(dst), (NV if issnan(b, src) else 0)
    if isinf(b, src): return inf(sign(b, src), dst), 0
    return rnd(fval(b, src), dst, rm, sign(b, src))
