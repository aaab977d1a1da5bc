# Reference-value store (DESIGN §6): SQLite-backed, see docs/reference-values.md.
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_attester.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_pcr.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_component.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_policy.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_token.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_state.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_result.c
)
list(APPEND VFY_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_list.c
  ${CMAKE_CURRENT_LIST_DIR}/src/refstore_bundle.c
  ${CMAKE_CURRENT_LIST_DIR}/src/pcrread_yaml.c
)
list(APPEND VFY_SOURCES ${CMAKE_CURRENT_LIST_DIR}/src/refstore_known.c)
