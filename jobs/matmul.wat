;; matmul: integer matrix product.
;;
;; Input:  n as a u32 little-endian, then A and B, each n*n u32 little-endian, row-major.
;; Output: C = A * B, n*n u32 little-endian, row-major, arithmetic wrapping modulo 2^32
;;         (C[i][j] = sum over k of A[i][k] * B[k][j]).
;; An input whose length is not exactly 4 + 8*n*n traps (a failed job).
;;
;; Memory layout (bytes): n at 12, A at 16, B right after A, C right after B.
(module
  (import "ergon" "input_len" (func $input_len (result i32)))
  (import "ergon" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "ergon" "write_output" (func $write_output (param i32 i32)))
  (memory (export "memory") 1)

  (func (export "run")
    (local $len i32) (local $n i32) (local $row i32) (local $size i32) (local $grow i32)
    (local $a i32) (local $b i32) (local $c i32) (local $out i32)
    (local $i i32) (local $j i32) (local $k i32) (local $pa i32) (local $pb i32) (local $sum i32)
    (local.set $len (call $input_len))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then unreachable))
    (drop (call $read_input (i32.const 12) (i32.const 0) (i32.const 4)))
    (local.set $n (i32.load (i32.const 12)))
    ;; n <= 0xffff keeps 8*n*n within an i64 below; any valid input is far smaller.
    (if (i32.gt_u (local.get $n) (i32.const 0xffff)) (then unreachable))
    (if (i64.ne
          (i64.extend_i32_u (local.get $len))
          (i64.add (i64.const 4) (i64.mul (i64.const 8) (i64.mul (i64.extend_i32_u (local.get $n)) (i64.extend_i32_u (local.get $n))))))
      (then unreachable))
    ;; Now 8*n*n < 2^31: the bytes of one matrix and all the offsets below fit in an i32.
    (local.set $row (i32.shl (local.get $n) (i32.const 2)))
    (local.set $size (i32.mul (local.get $row) (local.get $n)))
    (local.set $a (i32.const 16))
    (local.set $b (i32.add (local.get $a) (local.get $size)))
    (local.set $out (i32.add (local.get $b) (local.get $size)))
    ;; Pages for n, A, B and C, minus the pages there are.
    (local.set $grow
      (i32.wrap_i64
        (i64.sub
          (i64.shr_u
            (i64.add (i64.add (i64.extend_i32_u (local.get $out)) (i64.extend_i32_u (local.get $size))) (i64.const 65535))
            (i64.const 16))
          (i64.extend_i32_u (memory.size)))))
    (if (i32.gt_s (local.get $grow) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $grow)) (i32.const -1)) (then unreachable))))
    (drop (call $read_input (local.get $a) (i32.const 4) (i32.sub (local.get $len) (i32.const 4))))
    (local.set $c (local.get $out))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.eq (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.eq (local.get $j) (local.get $n)))
            ;; sum = row i of A . column j of B
            (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $row))))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $sum (i32.const 0))
            (local.set $k (local.get $n))
            (block $dot_done
              (loop $dot
                (br_if $dot_done (i32.eqz (local.get $k)))
                (local.set $sum
                  (i32.add (local.get $sum) (i32.mul (i32.load (local.get $pa)) (i32.load (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
                (local.set $pb (i32.add (local.get $pb) (local.get $row)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br $dot)))
            (i32.store (local.get $c) (local.get $sum))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (call $write_output (local.get $out) (local.get $size))))
