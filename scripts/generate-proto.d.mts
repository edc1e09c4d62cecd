export declare const PROTO_FILE: string;
export declare const GENERATED_FILE: string;
export declare function generateSchemaSource(protoFile?: string): string;
