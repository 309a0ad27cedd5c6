/**
 * A number to keep in a field of an object held per idle connection or session (a time in ms
 * after an epoch): as a small integer when it is one. V8 keeps a small integer in the field
 * itself, where any other number is a 16-byte heap object; and arithmetic on clock readings
 * (which are not small integers) yields the latter even when the result is small. A field that
 * ever holds a number that is not a small integer keeps every value as a heap object from then
 * on (its objects cost what they did before, no more).
 */
export function smallNumber(value: number): number {
  const int = value | 0;
  return int === value ? int : value;
}
