(class name: [(constant) (scope_resolution name: (_))] @name) @def.class
(module name: [(constant) (scope_resolution name: (_))] @name) @def.module
(method name: (_) @name) @def.method
(singleton_method name: (_) @name) @def.method
(alias name: (_) @name) @def.method
(program (assignment left: (constant) @name) @def.constant)

(call method: (identifier) @ref)
(call receiver: (constant) @ref)
(superclass (constant) @ref)
(scope_resolution name: (constant) @ref)
(body_statement (identifier) @ref)

(string_content) @lit
