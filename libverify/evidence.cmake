# Evidence: CMW collection (JSON and CBOR), agent manifest, agent log and
# history, appraisal policies (DESIGN §4–§6). libcbor's include directory and
# library are wired in libverify/CMakeLists.txt.
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/json_util.c
  ${CMAKE_CURRENT_LIST_DIR}/src/policy.c
  ${CMAKE_CURRENT_LIST_DIR}/src/manifest.c
  ${CMAKE_CURRENT_LIST_DIR}/src/agent_log.c
  ${CMAKE_CURRENT_LIST_DIR}/src/cmw.c
  ${CMAKE_CURRENT_LIST_DIR}/src/attest_body.c
)
