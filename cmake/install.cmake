# Installation: headers, the shared (SONAME) and static libraries of tlsplug
# and of each adapter, the CLI, a CMake package (find_package(tlsplug CONFIG):
# tlsplug::tlsplug, tlsplug::tlsplug_static, tlsplug::<adapter>[_static]) and
# pkg-config files (tlsplug.pc, tlsplug-<adapter>.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Only the public API leaves the shared libraries (nm -D --defined-only).
set(_tlsplug_map ${CMAKE_CURRENT_LIST_DIR}/tlsplug.map)
get_property(_tlsplug_adapters GLOBAL PROPERTY TLSPLUG_ADAPTERS)
set(_tlsplug_shared tlsplug)
foreach(a IN LISTS _tlsplug_adapters)
  list(APPEND _tlsplug_shared tlsplug-${a})
endforeach()
foreach(t IN LISTS _tlsplug_shared)
  target_link_options(${t} PRIVATE "LINKER:--version-script=${_tlsplug_map}")
  set_property(TARGET ${t} APPEND PROPERTY LINK_DEPENDS ${_tlsplug_map})
endforeach()

set_target_properties(tlsplug_static PROPERTIES EXPORT_NAME tlsplug_static)
set(_tlsplug_targets tlsplug tlsplug_static)
foreach(a IN LISTS _tlsplug_adapters)
  list(APPEND _tlsplug_targets tlsplug-${a} tlsplug-${a}_static)
endforeach()
install(TARGETS ${_tlsplug_targets} EXPORT tlsplugTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET tlsplug_cli)
  install(TARGETS tlsplug_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Headers: the core ones, the typed accessors of the built backends, and the
# headers of the built adapters.
set(_tlsplug_headers tlsplug.h aio.h reactor.h)
foreach(b IN LISTS TLSPLUG_BACKENDS)
  list(APPEND _tlsplug_headers ${b}.h)
endforeach()
foreach(a IN LISTS _tlsplug_adapters)
  list(APPEND _tlsplug_headers ${a}.h)
endforeach()
list(TRANSFORM _tlsplug_headers PREPEND ${PROJECT_SOURCE_DIR}/include/tlsplug/)
install(FILES ${_tlsplug_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tlsplug)

# The CMake package.  tlsplug_static and the adapters name the pkg-config
# imported targets they were built with; the config file makes them again.
set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tlsplug)
set(TLSPLUG_PKG_IMPORTS)
foreach(pair IN ITEMS OPENSSL=openssl WOLFSSL=wolfssl GNUTLS=gnutls)
  string(REPLACE "=" ";" p ${pair})
  list(GET p 1 b)
  if(b IN_LIST TLSPLUG_BACKENDS)
    list(APPEND TLSPLUG_PKG_IMPORTS ${pair})
  endif()
endforeach()
foreach(a IN LISTS _tlsplug_adapters)
  get_property(m GLOBAL PROPERTY TLSPLUG_ADAPTER_PC_${a})
  if(a STREQUAL uv)
    list(APPEND TLSPLUG_PKG_IMPORTS LIBUV=${m})
  elseif(a STREQUAL event)
    list(APPEND TLSPLUG_PKG_IMPORTS LIBEVENT=${m})
  endif()
endforeach()
set(TLSPLUG_COMPONENTS ${_tlsplug_adapters})
install(EXPORT tlsplugTargets NAMESPACE tlsplug:: DESTINATION ${_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tlsplugConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tlsplugConfig.cmake INSTALL_DESTINATION ${_cmake_dir})
# 0.x: a new minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tlsplugConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tlsplugConfig.cmake
  ${PROJECT_BINARY_DIR}/tlsplugConfigVersion.cmake DESTINATION ${_cmake_dir})

# pkg-config: the shared library by default, `pkg-config --static` for the
# archive (Requires.private / Libs.private name the backends).
set(TLSPLUG_PC_REQUIRES_PRIVATE)
set(TLSPLUG_PC_LIBS_PRIVATE)
foreach(b IN LISTS TLSPLUG_BACKENDS)
  if(b STREQUAL mbedtls)
    string(APPEND TLSPLUG_PC_LIBS_PRIVATE " -lmbedtls -lmbedx509 -lmbedcrypto")
  else()
    string(APPEND TLSPLUG_PC_REQUIRES_PRIVATE " ${b}")
  endif()
endforeach()
string(APPEND TLSPLUG_PC_LIBS_PRIVATE " -pthread")
string(REPLACE ";" ", " TLSPLUG_PC_BACKENDS "${TLSPLUG_BACKENDS}")
set(_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# Relocatable: the prefix is found from the .pc file's own place, so
# `cmake --install --prefix DIR` works without reconfiguring.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TLSPLUG_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _up "/p/${_pcdir}" "/p")
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(TLSPLUG_PC_PREFIX "\${pcfiledir}/${_up}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/tlsplug.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/tlsplug.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/tlsplug.pc DESTINATION ${_pcdir})
foreach(a IN LISTS _tlsplug_adapters)
  set(TLSPLUG_ADAPTER ${a})
  get_property(TLSPLUG_ADAPTER_PC GLOBAL PROPERTY TLSPLUG_ADAPTER_PC_${a})
  string(REGEX REPLACE "_core$" "" TLSPLUG_ADAPTER_LOOP ${TLSPLUG_ADAPTER_PC})
  configure_file(${CMAKE_CURRENT_LIST_DIR}/tlsplug-adapter.pc.in
    ${PROJECT_BINARY_DIR}/pkgconfig/tlsplug-${a}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/tlsplug-${a}.pc DESTINATION ${_pcdir})
endforeach()
