; Definitions: the whole node is @def.KIND, its name is @name.
(class_definition name: (identifier) @name) @def.class
(function_definition name: (identifier) @name) @def.function
(module (expression_statement (assignment left: (identifier) @name) @def.constant))
(class_definition body: (block (expression_statement (assignment left: (identifier) @name) @def.field)))

; References.
(call function: (identifier) @ref)
(call function: (attribute attribute: (identifier) @ref))
(attribute attribute: (identifier) @ref)
(import_from_statement name: (dotted_name (identifier) @ref))
(import_from_statement name: (aliased_import name: (dotted_name (identifier) @ref)))
(argument_list (identifier) @ref)
(argument_list (keyword_argument value: (identifier) @ref))
(decorator (identifier) @ref)
(type (identifier) @ref)
(raise_statement (identifier) @ref)
(except_clause (identifier) @ref)

(string_content) @lit

