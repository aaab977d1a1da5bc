# Core: errors, encodings, digests, TPM quote verification (DESIGN §3).
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/version.c
  ${CMAKE_CURRENT_LIST_DIR}/src/error.c
  ${CMAKE_CURRENT_LIST_DIR}/src/cursor.c
  ${CMAKE_CURRENT_LIST_DIR}/src/encoding.c
  ${CMAKE_CURRENT_LIST_DIR}/src/digest.c
  ${CMAKE_CURRENT_LIST_DIR}/src/binder.c
)
