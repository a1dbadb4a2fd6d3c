pragma circom 2.1.6;

// A factorisation: the prover knows p and q with p * q = n, both in [2, 2^64), without revealing them.
// One public input `n` (from the ask), no public output; `p` and `q` are private inputs (the ask's JSON tail).
// The range checks make p * q < 2^128 < r, so it is a factorisation over the integers, not modulo r (where
// every n has many). A factor 0 or 1, or one of 64 bits or more, fails a constraint while the witness is
// computed: an invalid input for the prover, with the template and line in the message.

// in < 2^n.
template Bits(n) {
    signal input in;
    signal bits[n];
    var sum = 0;
    for (var i = 0; i < n; i++) {
        bits[i] <-- (in >> i) & 1;
        bits[i] * (bits[i] - 1) === 0;
        sum += bits[i] * (1 << i);
    }
    sum === in;
}

// in is neither 0 nor 1: in * (in - 1) has an inverse.
template AtLeastTwo() {
    signal input in;
    signal t <== in * (in - 1);
    signal inv;
    inv <-- t != 0 ? 1 / t : 0;
    t * inv === 1;
}

template Factors() {
    signal input n;
    signal input p;
    signal input q;

    component pBits = Bits(64);
    pBits.in <== p;
    component qBits = Bits(64);
    qBits.in <== q;
    component pAtLeastTwo = AtLeastTwo();
    pAtLeastTwo.in <== p;
    component qAtLeastTwo = AtLeastTwo();
    qAtLeastTwo.in <== q;

    n === p * q;
}

component main {public [n]} = Factors();
