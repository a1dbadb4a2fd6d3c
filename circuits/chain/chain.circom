pragma circom 2.1.6;

// A MiMC-style chain: y = f_{n-1}(... f_0(x)) with f_i(s) = (s + c_i)^5, c_i = i^2 + 7.
// One public input `x` (from the ask) and one public output `y` (appended to the proof); `x` must be
// non-zero (an invalid input for the prover: `x * xInv === 1` fails). 3 constraints per round plus one.
template Chain(n) {
    signal input x;
    signal output y;

    signal xInv;
    xInv <-- x != 0 ? 1 / x : 0;
    x * xInv === 1;

    signal s[n + 1];
    signal sq[n];
    signal quad[n];
    s[0] <== x;
    for (var i = 0; i < n; i++) {
        var c = i * i + 7;
        sq[i] <== (s[i] + c) * (s[i] + c);
        quad[i] <== sq[i] * sq[i];
        s[i + 1] <== quad[i] * (s[i] + c);
    }
    y <== s[n];
}
