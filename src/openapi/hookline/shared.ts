/** A response in Codat's ErrorMessage shape, for Hookline's own operations. */
export const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorMessage" } } } });
