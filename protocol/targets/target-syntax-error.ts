/** A target expression that does not parse; `position` is the character offset of the problem. */
export class TargetSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
    readonly expression: string,
  ) {
    super(message);
    this.name = 'TargetSyntaxError';
  }
}
