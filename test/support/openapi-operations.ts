import { dereference, type Schema } from "./json-schema-arbitrary.ts";

export interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  schema: Schema;
}

/** One operation of an OpenAPI document, its parameters and JSON body schema resolved. */
export interface Operation {
  id: string;
  method: string;
  /** The path template, `{name}` for each path parameter. */
  path: string;
  parameters: Parameter[];
  body?: { schema: Schema; required: boolean };
}

const METHODS = ["get", "put", "post", "delete", "patch"];

/** Every operation of `document`; a path parameter the document leaves undeclared is read as a string. */
export function operationsOf(document: { paths: Record<string, Record<string, any>> }): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => {
      const operation = item[method];
      const declared = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((parameter: Schema) => dereference(document, parameter));
      const parameters: Parameter[] = declared.map((parameter) => ({
        name: parameter.name,
        in: parameter.in,
        required: parameter.required === true,
        schema: parameter.schema ?? { type: "string" },
      }));
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        if (!parameters.some((parameter) => parameter.in === "path" && parameter.name === name))
          parameters.push({ name: name!, in: "path", required: true, schema: { type: "string" } });
      }
      const content = operation.requestBody === undefined ? undefined : dereference(document, operation.requestBody);
      const schema = content?.content?.["application/json"]?.schema as Schema | undefined;
      return {
        id: operation.operationId as string,
        method: method.toUpperCase(),
        path,
        parameters,
        body: schema === undefined ? undefined : { schema, required: content!.required === true },
      };
    }),
  );
}
