# ctest bench-callgrind-smoke: cmake -DBENCH=<tlsplug-bench> -DBACKEND=<name> -P this.
# Fails unless every row kind the socket cases print has both figures.
execute_process(
  COMMAND "${BENCH}" --callgrind --quick --only echo,many --backend "${BACKEND}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 280)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tlsplug-bench --callgrind exited with ${rc}")
endif()
foreach(kind "echo round trip 64B" "echo 16KiB echoed" "conns: server per connection established"
        "conns: server per echo round trip")
  if(NOT out MATCHES "instructions per op: [^\n]*${kind}[^\n]* [0-9.]+ +[0-9.]+ +[0-9.]+ ")
    message(FATAL_ERROR "no \"instructions per op: ...${kind}...\" row with both figures")
  endif()
endforeach()
