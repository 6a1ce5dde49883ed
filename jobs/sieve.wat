;; sieve: the primes up to a limit, by the sieve of Eratosthenes.
;;
;; Input:  limit as a u32 little-endian (exactly 4 bytes).
;; Output: the number of primes p <= limit as a u32 little-endian, then those primes in
;;         increasing order, each a u32 little-endian.
;; Another input length traps (a failed job), and so does a limit whose sieve (limit + 1
;; bytes) does not fit in memory: about 64 million under the default cap.
;;
;; Memory layout (bytes): the sieve at 16 (byte 16 + i is 1 once i is known composite), then,
;; 4-aligned, the output.
(module
  (import "ergon" "input_len" (func $input_len (result i32)))
  (import "ergon" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "ergon" "write_output" (func $write_output (param i32 i32)))
  (memory (export "memory") 1)

  (func (export "run")
    (local $limit i32) (local $grow i32) (local $i i32) (local $j i32) (local $p i32) (local $out i32)
    (if (i32.ne (call $input_len) (i32.const 4)) (then unreachable))
    (drop (call $read_input (i32.const 0) (i32.const 0) (i32.const 4)))
    (local.set $limit (i32.load (i32.const 0)))
    ;; Pages for the sieve and the output's count, minus the pages there are.
    (local.set $grow
      (i32.wrap_i64
        (i64.sub
          (i64.shr_u (i64.add (i64.extend_i32_u (local.get $limit)) (i64.const 65559)) (i64.const 16))
          (i64.extend_i32_u (memory.size)))))
    (if (i32.gt_s (local.get $grow) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $grow)) (i32.const -1)) (then unreachable))))
    ;; The limit fits in memory, so it is below 2^32 / 64 and i * i cannot overflow here.
    (local.set $i (i32.const 2))
    (block $sieved
      (loop $sieve
        (br_if $sieved (i32.gt_u (i32.mul (local.get $i) (local.get $i)) (local.get $limit)))
        (if (i32.eqz (i32.load8_u offset=16 (local.get $i)))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $marked
              (loop $mark
                (br_if $marked (i32.gt_u (local.get $j) (local.get $limit)))
                (i32.store8 offset=16 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $mark)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sieve)))
    ;; The output: a count, then each prime, growing memory a page at a time as it fills.
    (local.set $p (i32.and (i32.add (local.get $limit) (i32.const 20)) (i32.const -4)))
    (local.set $out (i32.add (local.get $p) (i32.const 4)))
    (local.set $i (i32.const 2))
    (block $listed
      (loop $list
        (br_if $listed (i32.gt_u (local.get $i) (local.get $limit)))
        (if (i32.eqz (i32.load8_u offset=16 (local.get $i)))
          (then
            (if (i32.ge_u (i32.shr_u (i32.add (local.get $out) (i32.const 3)) (i32.const 16)) (memory.size))
              (then
                (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))))
            (i32.store (local.get $out) (local.get $i))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $list)))
    (i32.store (local.get $p) (i32.shr_u (i32.sub (local.get $out) (i32.add (local.get $p) (i32.const 4))) (i32.const 2)))
    (call $write_output (local.get $p) (i32.sub (local.get $out) (local.get $p)))))
