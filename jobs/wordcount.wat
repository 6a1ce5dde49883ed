;; wordcount: the number of words in a text.
;;
;; Input:  any bytes.
;; Output: the number of words as a u64 little-endian, where a word is a maximal run of bytes
;;         that are not ASCII whitespace (space, \t, \n, \x0c, \r: Rust's
;;         u8::is_ascii_whitespace; \x0b is not whitespace).
;;
;; The input is read 64 KiB at a time into the one page of memory, so any input size runs
;; in constant memory.
(module
  (import "ergon" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "ergon" "write_output" (func $write_output (param i32 i32)))
  (memory (export "memory") 1)

  (func (export "run")
    (local $offset i32) (local $n i32) (local $p i32) (local $b i32) (local $space i32)
    (local $in_word i32) (local $words i64)
    (block $eof
      (loop $chunks
        (local.set $n (call $read_input (i32.const 0) (local.get $offset) (i32.const 65536)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $offset (i32.add (local.get $offset) (local.get $n)))
        (local.set $p (i32.const 0))
        (loop $bytes
          (local.set $b (i32.load8_u (local.get $p)))
          ;; Bit b of 0x1_0000_3600 is set for b in {9, 10, 12, 13, 32}.
          (local.set $space
            (i32.and
              (i32.le_u (local.get $b) (i32.const 32))
              (i32.wrap_i64 (i64.shr_u (i64.const 0x100003600) (i64.extend_i32_u (local.get $b))))))
          ;; A word starts at a non-space byte that follows a space or the start.
          (local.set $words
            (i64.add
              (local.get $words)
              (i64.extend_i32_u (i32.and (i32.eqz (local.get $space)) (i32.eqz (local.get $in_word))))))
          (local.set $in_word (i32.eqz (local.get $space)))
          (br_if $bytes (i32.ne (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $n))))
        (br $chunks)))
    (i64.store (i32.const 0) (local.get $words))
    (call $write_output (i32.const 0) (i32.const 8))))
