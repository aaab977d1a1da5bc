# Core: errors, encodings, digests, TPM quote verification (DESIGN §3).
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/version.c
  ${CMAKE_CURRENT_LIST_DIR}/src/error.c
  ${CMAKE_CURRENT_LIST_DIR}/src/cursor.c
  ${CMAKE_CURRENT_LIST_DIR}/src/encoding.c
  ${CMAKE_CURRENT_LIST_DIR}/src/digest.c
  ${CMAKE_CURRENT_LIST_DIR}/src/binder.c
  ${CMAKE_CURRENT_LIST_DIR}/src/tpm_attest.c
  ${CMAKE_CURRENT_LIST_DIR}/src/tpm_ak.c
  ${CMAKE_CURRENT_LIST_DIR}/src/tpm_sig.c
  ${CMAKE_CURRENT_LIST_DIR}/src/pcr_values.c
  ${CMAKE_CURRENT_LIST_DIR}/src/tpm_quote.c
  ${CMAKE_CURRENT_LIST_DIR}/src/tpm_clock.c
  ${CMAKE_CURRENT_LIST_DIR}/src/fileio.c
)
