;; hashchain: SHA-256 iterated N times over a seed.
;;
;; Input:  N as a u32 little-endian, then the seed (any number of bytes, possibly none).
;; Output: h_N, where h_0 = seed and h_{i+1} = SHA-256(h_i): the 32-byte digest for N >= 1,
;;         the seed itself for N = 0.
;; An input shorter than 4 bytes traps (a failed job).
;;
;; Memory layout (bytes):
;;   0..256     K, the 64 round constants (little-endian words)
;;   256..288   H, the hash state
;;   288..544   W, the message schedule
;;   544..576   the digest, big-endian (also the next link's message)
;;   576..704   the padded final block(s)
;;   704..708   N as read from the input
;;   736..768   the initial hash value
;;   1024..     the seed
(module
  (import "ergon" "input_len" (func $input_len (result i32)))
  (import "ergon" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "ergon" "write_output" (func $write_output (param i32 i32)))
  (memory (export "memory") 1)

  (data (i32.const 0)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9"
    "\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55"
    "\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24"
    "\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf"
    "\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53"
    "\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7"
    "\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34"
    "\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c"
    "\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")
  (data (i32.const 736)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5"
    "\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")

  ;; Byte swap: SHA-256 words are big-endian, WASM loads are little-endian.
  (func $bswap (param $x i32) (result i32)
    (i32.or
      (i32.and (i32.rotl (local.get $x) (i32.const 8)) (i32.const 0x00ff00ff))
      (i32.and (i32.rotr (local.get $x) (i32.const 8)) (i32.const 0xff00ff00))))

  ;; The compression function: H += rounds(H, the 64-byte block at $block).
  (func $compress (param $block i32)
    (local $i i32) (local $x i32) (local $y i32) (local $t1 i32) (local $t2 i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    ;; W[0..16]: the block's big-endian words. $i is the byte offset of W[t].
    (loop $load
      (i32.store offset=288 (local.get $i)
        (call $bswap (i32.load (i32.add (local.get $block) (local.get $i)))))
      (br_if $load (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 64))))
    ;; W[16..64] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2])
    (loop $expand
      (local.set $x (i32.load offset=288 (i32.sub (local.get $i) (i32.const 60))))
      (local.set $y (i32.load offset=288 (i32.sub (local.get $i) (i32.const 8))))
      (i32.store offset=288 (local.get $i)
        (i32.add
          (i32.add
            (i32.load offset=288 (i32.sub (local.get $i) (i32.const 64)))
            (i32.load offset=288 (i32.sub (local.get $i) (i32.const 28))))
          (i32.add
            (i32.xor
              (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18)))
              (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor
              (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19)))
              (i32.shr_u (local.get $y) (i32.const 10))))))
      (br_if $expand (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 256))))
    (local.set $a (i32.load (i32.const 256)))
    (local.set $b (i32.load (i32.const 260)))
    (local.set $c (i32.load (i32.const 264)))
    (local.set $d (i32.load (i32.const 268)))
    (local.set $e (i32.load (i32.const 272)))
    (local.set $f (i32.load (i32.const 276)))
    (local.set $g (i32.load (i32.const 280)))
    (local.set $h (i32.load (i32.const 284)))
    (local.set $i (i32.const 0))
    (loop $round
      ;; t1 = h + S1(e) + ch(e, f, g) + K[t] + W[t]
      (local.set $t1
        (i32.add
          (i32.add
            (i32.add
              (local.get $h)
              (i32.xor
                (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11)))
                (i32.rotr (local.get $e) (i32.const 25))))
            (i32.xor
              (i32.and (local.get $e) (local.get $f))
              (i32.and (i32.xor (local.get $e) (i32.const -1)) (local.get $g))))
          (i32.add (i32.load (local.get $i)) (i32.load offset=288 (local.get $i)))))
      ;; t2 = S0(a) + maj(a, b, c)
      (local.set $t2
        (i32.add
          (i32.xor
            (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13)))
            (i32.rotr (local.get $a) (i32.const 22)))
          (i32.xor
            (i32.xor (i32.and (local.get $a) (local.get $b)) (i32.and (local.get $a) (local.get $c)))
            (i32.and (local.get $b) (local.get $c)))))
      (local.set $h (local.get $g))
      (local.set $g (local.get $f))
      (local.set $f (local.get $e))
      (local.set $e (i32.add (local.get $d) (local.get $t1)))
      (local.set $d (local.get $c))
      (local.set $c (local.get $b))
      (local.set $b (local.get $a))
      (local.set $a (i32.add (local.get $t1) (local.get $t2)))
      (br_if $round (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 256))))
    (i32.store (i32.const 256) (i32.add (i32.load (i32.const 256)) (local.get $a)))
    (i32.store (i32.const 260) (i32.add (i32.load (i32.const 260)) (local.get $b)))
    (i32.store (i32.const 264) (i32.add (i32.load (i32.const 264)) (local.get $c)))
    (i32.store (i32.const 268) (i32.add (i32.load (i32.const 268)) (local.get $d)))
    (i32.store (i32.const 272) (i32.add (i32.load (i32.const 272)) (local.get $e)))
    (i32.store (i32.const 276) (i32.add (i32.load (i32.const 276)) (local.get $f)))
    (i32.store (i32.const 280) (i32.add (i32.load (i32.const 280)) (local.get $g)))
    (i32.store (i32.const 284) (i32.add (i32.load (i32.const 284)) (local.get $h))))

  ;; SHA-256 of $len bytes at $ptr, into the digest at 544.
  (func $sha256 (param $ptr i32) (param $len i32)
    (local $end i32) (local $rem i32) (local $padded i32) (local $i i32)
    (memory.copy (i32.const 256) (i32.const 736) (i32.const 32))
    (local.set $end (i32.add (local.get $ptr) (i32.and (local.get $len) (i32.const -64))))
    (block $full
      (loop $blocks
        (br_if $full (i32.eq (local.get $ptr) (local.get $end)))
        (call $compress (local.get $ptr))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 64)))
        (br $blocks)))
    ;; The tail, the 0x80 marker, zeros and the 64-bit big-endian bit length: one block, or
    ;; two if the tail leaves no room for the length.
    (local.set $rem (i32.and (local.get $len) (i32.const 63)))
    (memory.fill (i32.const 576) (i32.const 0) (i32.const 128))
    (memory.copy (i32.const 576) (local.get $ptr) (local.get $rem))
    (i32.store8 offset=576 (local.get $rem) (i32.const 0x80))
    (local.set $padded (select (i32.const 64) (i32.const 128) (i32.lt_u (local.get $rem) (i32.const 56))))
    (i32.store offset=568 (local.get $padded) (call $bswap (i32.shr_u (local.get $len) (i32.const 29))))
    (i32.store offset=572 (local.get $padded) (call $bswap (i32.shl (local.get $len) (i32.const 3))))
    (call $compress (i32.const 576))
    (if (i32.eq (local.get $padded) (i32.const 128))
      (then (call $compress (i32.const 640))))
    (loop $digest
      (i32.store offset=544 (local.get $i) (call $bswap (i32.load offset=256 (local.get $i))))
      (br_if $digest (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4))) (i32.const 32)))))

  (func (export "run")
    (local $len i32) (local $n i32) (local $grow i32)
    (local.set $len (call $input_len))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then unreachable))
    (drop (call $read_input (i32.const 704) (i32.const 0) (i32.const 4)))
    (local.set $n (i32.load (i32.const 704)))
    (local.set $len (i32.sub (local.get $len) (i32.const 4)))
    ;; Pages for the seed at 1024, minus the pages there are.
    (local.set $grow
      (i32.sub (i32.shr_u (i32.add (local.get $len) (i32.const 66559)) (i32.const 16)) (memory.size)))
    (if (i32.gt_s (local.get $grow) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $grow)) (i32.const -1)) (then unreachable))))
    (drop (call $read_input (i32.const 1024) (i32.const 4) (local.get $len)))
    (if (i32.eqz (local.get $n))
      (then
        (call $write_output (i32.const 1024) (local.get $len))
        (return)))
    (call $sha256 (i32.const 1024) (local.get $len))
    (block $done
      (loop $chain
        (br_if $done (i32.eqz (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (call $sha256 (i32.const 544) (i32.const 32))
        (br $chain)))
    (call $write_output (i32.const 544) (i32.const 32))))
